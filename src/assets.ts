// Where the files the server reads at run time live: the migrations (drizzle/), the pages
// (src/http/pages/), socket.io-client's browser bundle and PGlite's WebAssembly and data files.
// From a checkout or an installed package they are read where they are; in the single-file
// executable (`npm run compile`, scripts/compile.ts) they are embedded under the same relative
// paths and reached through Bun's embedded file system.
import { basename, dirname, join } from "node:path";

/** True inside an executable made by `bun build --compile`. */
export const isCompiled = import.meta.dir.startsWith("/$bunfs/");

/** The project root (the folder holding drizzle/ and src/), in a checkout or in the executable. */
export const ROOT = isCompiled ? import.meta.dir : join(import.meta.dir, "..");

/**
 * A project file by its path from the project root (`src/http/pages/demo.html`). Bun shortens the
 * names of embedded files (`pages/demo.html`), so in the executable the longest embedded name the
 * path ends with is taken.
 */
export function projectFile(path: string): string {
  if (!isCompiled) return join(ROOT, path);
  let best: string | undefined;
  for (const embedded of Bun.embeddedFiles) {
    const name = (embedded as EmbeddedFile).name;
    if ((path === name || path.endsWith("/" + name)) && name.length > (best?.length ?? 0)) best = name;
  }
  return join(ROOT, best ?? path);
}

/** A file of an npm package, as embedded by scripts/compile.ts or resolved from node_modules. */
export function packageFile(pkg: string, file: string): string | undefined {
  if (isCompiled) {
    // Bun embeds a file from node_modules under its base name, one from the project under its path.
    const suffix = `${pkg}/${file}`;
    const base = basename(file);
    const blob = Bun.embeddedFiles.find((embedded) => {
      const name = (embedded as EmbeddedFile).name;
      return name.endsWith(suffix) || name === base;
    }) as EmbeddedFile | undefined;
    return blob && join(ROOT, blob.name);
  }
  try {
    return join(dirname(Bun.resolveSync(`${pkg}/package.json`, import.meta.dir)), file);
  } catch {
    return undefined;
  }
}

type EmbeddedFile = Blob & { readonly name: string };

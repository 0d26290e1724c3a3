// The pages the server serves itself (issue 4): /dashboard and /demo, their scripts and styles, and
// socket.io-client's browser bundle. No CDN and no build step: static files read once, then cached.
// The HTML holds no data: the dashboard's numbers come over the /admin namespace (admin role only).
import { dirname, join } from "node:path";
import { packageFile, projectFile } from "../assets.ts";
import type { ModuleContext } from "../modules/context.ts";
import { log } from "../log.ts";
import { HttpError } from "./errors.ts";
import type { Route } from "./routes.ts";

const PAGES_DIR = dirname(projectFile("src/http/pages/demo.html"));

// Scripts only from this origin; sockets to this origin (CSP 3 lets 'self' match ws:/wss:).
const PAGE_HEADERS = {
  "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-cache",
};

interface Asset {
  file: string;
  type: string;
}

const ASSETS: Record<string, Asset> = {
  "pages.css": { file: join(PAGES_DIR, "pages.css"), type: "text/css; charset=utf-8" },
  "chart.js": { file: join(PAGES_DIR, "chart.js"), type: "text/javascript; charset=utf-8" },
  "dashboard.js": { file: join(PAGES_DIR, "dashboard.js"), type: "text/javascript; charset=utf-8" },
  "demo.js": { file: join(PAGES_DIR, "demo.js"), type: "text/javascript; charset=utf-8" },
  "tokens.js": { file: join(PAGES_DIR, "tokens.js"), type: "text/javascript; charset=utf-8" },
  "socket.io.min.js": { file: socketIoBundle(), type: "text/javascript; charset=utf-8" },
};

// socket.io-client's package exports do not list the minified bundle, so it is found by path.
function socketIoBundle(): string {
  return packageFile("socket.io-client", "dist/socket.io.min.js") ?? "";
}

export function pageRoutes(ctx: ModuleContext): Route[] {
  const cache = new Map<string, Promise<string>>();
  const read = (file: string, transform = (text: string) => text) => {
    let text = cache.get(file);
    if (text === undefined) {
      text = Bun.file(file).text().then(transform);
      cache.set(file, text);
      // A failed read is not cached: the next request tries again.
      text.catch(() => cache.delete(file));
    }
    return text;
  };
  // The pages offer to mint an unsigned token only when the server accepts one (development mode).
  const page = (name: string) => async () => {
    const html = await read(join(PAGES_DIR, name), (text) => text.replaceAll("__AUTH_MODE__", ctx.verifier.mode));
    return new Response(html, { headers: { ...PAGE_HEADERS, "Content-Type": "text/html; charset=utf-8" } });
  };
  return [
    { method: "GET", path: "/dashboard", isProtected: false, handler: page("dashboard.html") },
    { method: "GET", path: "/demo", isProtected: false, handler: page("demo.html") },
    {
      method: "GET", path: "/assets/:name", isProtected: false,
      handler: async (_req, params) => {
        const asset = Object.hasOwn(ASSETS, params.name!) ? ASSETS[params.name!]! : undefined;
        if (asset === undefined) throw new HttpError(404, `no asset ${params.name}`);
        try {
          return new Response(await read(asset.file), { headers: { ...PAGE_HEADERS, "Content-Type": asset.type } });
        } catch (err) {
          log.warn?.("page asset unavailable", { asset: params.name, err: String(err) });
          throw new HttpError(404, `asset ${params.name} is not installed`);
        }
      },
    },
  ];
}

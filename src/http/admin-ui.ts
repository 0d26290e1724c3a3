// The Socket.IO Admin UI's pages, as @socket.io/admin-ui ships them (ui/dist), at /admin-ui/.
// Only when the Admin UI is on (ADMIN_UI_USERNAME/ADMIN_UI_PASSWORD); the login happens over its namespace.
import { join } from "node:path";
import { packageFile } from "../assets.ts";
import type { ModuleContext } from "../modules/context.ts";
import { HttpError } from "./errors.ts";
import type { Route } from "./routes.ts";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8",
  png: "image/png", svg: "image/svg+xml", map: "application/json",
};
const HEADERS = { "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache" };
const FOLDERS = new Set(["css", "js", "img"]);

export function adminUiRoutes(ctx: ModuleContext): Route[] {
  const adminUi = ctx.config.adminUi;
  if (adminUi === undefined) return [];
  const dist = packageFile("@socket.io/admin-ui", "ui/dist");
  const file = async (path: string) => {
    const blob = dist === undefined ? null : Bun.file(join(dist, path));
    if (blob === null || !(await blob.exists())) throw new HttpError(404, `no admin ui file ${path}`);
    return new Response(blob, { headers: { ...HEADERS, "Content-Type": TYPES[path.slice(path.lastIndexOf(".") + 1)] ?? "application/octet-stream" } });
  };
  // The login form starts on this server, its Socket.IO path and the Admin UI's namespace (the UI
  // keeps what the user types in localStorage; these only fill what is still empty).
  const defaults = [
    `if (localStorage.getItem("server_url") === null) localStorage.setItem("server_url", location.origin);`,
    `if (localStorage.getItem("namespace") === null) localStorage.setItem("namespace", ${JSON.stringify(adminUi.namespace)});`,
    `if (localStorage.getItem("path") === null) localStorage.setItem("path", ${JSON.stringify(ctx.config.path.replace(/\/$/, ""))});`,
  ].join("\n");
  let index: Promise<string> | undefined;
  return [
    { method: "GET", path: "/admin-ui", isProtected: false, handler: () => Response.redirect("/admin-ui/", 308) },
    {
      method: "GET", path: "/admin-ui/", isProtected: false,
      handler: async () => {
        if (dist === undefined) throw new HttpError(404, "@socket.io/admin-ui is not installed");
        index ??= Bun.file(join(dist, "index.html")).text().then((html) => html.replace("<script ", `<script src="defaults.js"></script><script `));
        return new Response(await index, { headers: { ...HEADERS, "Content-Type": TYPES.html! } });
      },
    },
    { method: "GET", path: "/admin-ui/defaults.js", isProtected: false, handler: () => new Response(defaults, { headers: { ...HEADERS, "Content-Type": TYPES.js! } }) },
    { method: "GET", path: "/admin-ui/favicon.png", isProtected: false, handler: () => file("favicon.png") },
    {
      method: "GET", path: "/admin-ui/:folder/:name", isProtected: false,
      handler: (_req, params) => {
        const { folder, name } = params as { folder: string; name: string };
        // Two fixed-depth segments: no "..", no slash can reach outside ui/dist.
        if (!FOLDERS.has(folder) || name.includes("/") || name.includes("\\") || name.startsWith(".")) throw new HttpError(404, `no admin ui file ${folder}/${name}`);
        return file(`${folder}/${name}`);
      },
    },
  ];
}

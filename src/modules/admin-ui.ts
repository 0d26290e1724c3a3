// The official Socket.IO Admin UI (@socket.io/admin-ui) on the ready server: its `instrument()`
// runs unchanged on our Server, on its own namespace behind a bcrypt-checked login.
import type { AdminUiConfig } from "../config.ts";
import type { Server } from "../index.ts";
import { log } from "../log.ts";

// bcrypt's modular crypt format: $2a$ / $2b$ / $2y$, two-digit cost, 53 characters of salt and hash.
const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/** Instruments `io` for the Admin UI. The package is an optional peer: a clear error when it is missing. */
export async function registerAdminUi(io: Server, config: AdminUiConfig): Promise<void> {
  let adminUi: typeof import("@socket.io/admin-ui");
  try {
    adminUi = await import("@socket.io/admin-ui");
  } catch (err) {
    throw new Error("ADMIN_UI_USERNAME is set but @socket.io/admin-ui is not installed (npm install @socket.io/admin-ui)", { cause: err });
  }
  // The UI checks the password against a bcrypt hash (bcryptjs); a plain one is hashed once here.
  const password = BCRYPT_HASH.test(config.password) ? config.password : await Bun.password.hash(config.password, { algorithm: "bcrypt" });
  adminUi.instrument(io as unknown as Parameters<typeof adminUi.instrument>[0], {
    namespaceName: config.namespace,
    auth: { type: "basic", username: config.username, password },
    mode: "development", // lists every socket, its rooms and events (production mode: counters only)
  });
  log.info?.("admin ui on", { namespace: config.namespace, path: "/admin-ui/" });
}

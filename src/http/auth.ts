// Who may call the HTTP API: `Authorization: Bearer <API_KEY>` (compared in constant time) or a
// service JWT carrying the admin role (issue 4). Failure is an HttpError: 401 without valid
// credentials, 403 for a valid token that lacks the admin role.
import { createHash, timingSafeEqual } from "node:crypto";
import { isAuthError, type Verifier } from "../auth/jwt.ts";
import { HttpError } from "./errors.ts";

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="bunsen"' };

export type Caller = { kind: "api-key" } | { kind: "jwt"; userId: string };

export interface ApiAuth {
  authorize(req: Request): Promise<Caller>;
}

export function createApiAuth(apiKey: string | undefined, verifier: Verifier): ApiAuth {
  // Both sides are hashed first: timingSafeEqual needs equal lengths, and comparing digests
  // leaks neither the key's length nor its prefix.
  const keyDigest = apiKey === undefined ? undefined : digest(apiKey);
  return {
    async authorize(req) {
      const header = req.headers.get("authorization") ?? "";
      const match = /^bearer\s+(.+)$/i.exec(header.trim());
      if (match === null) throw new HttpError(401, "missing Authorization: Bearer <API_KEY or admin JWT>", { headers: CHALLENGE });
      const credential = match[1]!.trim();
      if (keyDigest !== undefined && timingSafeEqual(digest(credential), keyDigest)) return { kind: "api-key" };
      // An API key is never a JWT: skip the verifier for anything without the JWT shape.
      if (credential.split(".").length !== 3) throw new HttpError(401, "invalid API key or token", { headers: CHALLENGE });
      const identity = await verifier.identify(credential);
      if (isAuthError(identity)) throw new HttpError(401, `invalid token (${identity.code})`, { headers: CHALLENGE });
      if (!identity.roles.includes("admin")) throw new HttpError(403, "the token lacks the admin role");
      return { kind: "jwt", userId: identity.id };
    },
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

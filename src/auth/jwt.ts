// JWT verification with jose: keys imported once at boot; failures are AuthError values, never thrown.
// Specs: RFC 7519 (claims exp/nbf/iss/aud), RFC 8725 §3.1–3.2 (algorithm allow-list, no `none`).
import { createRemoteJWKSet, decodeJwt, importSPKI, jwtVerify, SignJWT, UnsecuredJWT, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { AuthConfig, AuthMode } from "../config.ts";
import { log } from "../log.ts";

export type Claims = JWTPayload;

/** Closed set of authentication failures; each becomes CONNECT_ERROR `{ message: "unauthorized" }`. */
export type AuthErrorCode = "token_missing" | "token_invalid" | "token_expired";
export type AuthError = { readonly code: AuthErrorCode };

export const AUTH_ERRORS = {
  token_missing: Object.freeze({ code: "token_missing" }),
  token_invalid: Object.freeze({ code: "token_invalid" }),
  token_expired: Object.freeze({ code: "token_expired" }),
} as const satisfies Record<AuthErrorCode, AuthError>;

/** True only for the three AUTH_ERRORS objects, so a token carrying a `code` claim is never mistaken for one. */
export function isAuthError(value: unknown): value is AuthError {
  return value === AUTH_ERRORS.token_missing || value === AUTH_ERRORS.token_invalid || value === AUTH_ERRORS.token_expired;
}

export interface UserIdentity {
  id: string;
  tenantId?: string;
  name?: string;
  avatar?: string;
  roles: string[];
  exp?: number;
}

export type VerifierOptions = Pick<
  AuthConfig,
  "mode" | "secret" | "publicKey" | "jwksUrl" | "algorithms" | "issuer" | "audience" | "clockToleranceS" | "userIdClaims" | "tenantIdClaims"
>;

export interface Verifier {
  readonly mode: AuthMode;
  /** Checks signature, algorithm, exp/nbf/iss/aud and that a user id claim is present. */
  verify(token: string | undefined): Promise<Claims | AuthError>;
  /** `verify`, then the claims mapped to a UserIdentity. */
  identify(token: string | undefined): Promise<UserIdentity | AuthError>;
}

/** Imports the key material once; call at boot. Throws only on unusable key material (bad config). */
export async function createVerifier(options: VerifierOptions): Promise<Verifier> {
  const check = options.mode === "jwt" ? await signedCheck(options) : unsignedCheck(options);
  const verify = async (token: string | undefined): Promise<Claims | AuthError> => {
    if (!token) return AUTH_ERRORS.token_missing;
    const claims = await check(token);
    if (isAuthError(claims)) return claims;
    return firstClaim(claims, options.userIdClaims) === undefined ? AUTH_ERRORS.token_invalid : claims;
  };
  return {
    mode: options.mode,
    verify,
    async identify(token) {
      const claims = await verify(token);
      return isAuthError(claims) ? claims : toIdentity(claims, options);
    },
  };
}

type Check = (token: string) => Promise<Claims | AuthError>;

async function signedCheck(options: VerifierOptions): Promise<Check> {
  const algorithms = [...options.algorithms];
  if (algorithms.length === 0 || algorithms.some((alg) => alg.toLowerCase() === "none"))
    throw new Error("jwt verifier: algorithms must be a non-empty list without `none`");
  const key = await keyOf(options, algorithms);
  const verifyOptions = {
    algorithms,
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: options.clockToleranceS,
  };
  return async (token) => {
    try {
      // jose applies `algorithms` before touching the key: an HS256 token never reaches an RSA key.
      return (await jwtVerify(token, key, verifyOptions)).payload;
    } catch (error) {
      return authErrorOf(error, options.jwksUrl !== undefined);
    }
  };
}

// A secret is one Uint8Array; a PEM is imported once per allowed algorithm (WebCrypto binds a key to
// one algorithm, so an RSA key used for RS256 and PS256 needs two imports); a JWKS is fetched lazily.
async function keyOf(options: VerifierOptions, algorithms: string[]): Promise<JWTVerifyGetKey> {
  if (options.secret) {
    const secret = new TextEncoder().encode(options.secret);
    return () => secret;
  }
  if (options.jwksUrl) return createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  const pem = options.publicKey;
  if (!pem) throw new Error("jwt verifier: mode jwt needs a secret, publicKey or jwksUrl");
  const keys = new Map<string, CryptoKey>();
  for (const alg of algorithms) keys.set(alg, await importSPKI(pem, alg));
  return (header) => {
    const key = header.alg === undefined ? undefined : keys.get(header.alg);
    if (!key) throw new Error(`no key for alg ${header.alg}`);
    return key;
  };
}

function authErrorOf(error: unknown, isRemoteKey: boolean): AuthError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ERR_JWT_EXPIRED") return AUTH_ERRORS.token_expired;
  // The key server is down or slow: degraded, and every client is refused until it answers.
  if (isRemoteKey && (code === "ERR_JWKS_TIMEOUT" || error instanceof TypeError)) log.warn?.("jwks unavailable", { error });
  else log.debug?.("token rejected", { code: typeof code === "string" ? code : undefined });
  return AUTH_ERRORS.token_invalid;
}

// Development mode: no key material, so nothing can be verified. Accepts a JWT of any alg (including
// `none`), a base64url JSON payload, or raw JSON, and still enforces exp/nbf and the id claim.
function unsignedCheck(options: VerifierOptions): Check {
  log.warn?.("development mode: tokens are NOT verified and a handshake's auth.userId is trusted; set JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL");
  return async (token) => {
    const claims = decodeUnsigned(token);
    if (claims === undefined) return AUTH_ERRORS.token_invalid;
    const nowS = Date.now() / 1000;
    if (typeof claims.exp === "number" && claims.exp + options.clockToleranceS <= nowS) return AUTH_ERRORS.token_expired;
    if (typeof claims.nbf === "number" && claims.nbf - options.clockToleranceS > nowS) return AUTH_ERRORS.token_invalid;
    return claims;
  };
}

function decodeUnsigned(token: string): Claims | undefined {
  try {
    if (token.includes(".")) return decodeJwt(token);
    const json = token.startsWith("{") ? token : Buffer.from(token, "base64url").toString();
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Claims) : undefined;
  } catch {
    return undefined;
  }
}

/** Maps verified claims to the identity stored on `socket.data.user`. */
export function toIdentity(claims: Claims, names: Pick<AuthConfig, "userIdClaims" | "tenantIdClaims">): UserIdentity {
  const identity: UserIdentity = { id: firstClaim(claims, names.userIdClaims) ?? "", roles: rolesOf(claims) };
  const tenantId = firstClaim(claims, names.tenantIdClaims);
  const name = stringClaim(claims.name) ?? stringClaim(claims.username);
  const avatar = stringClaim(claims.avatar) ?? stringClaim(claims.picture);
  if (tenantId !== undefined) identity.tenantId = tenantId;
  if (name !== undefined) identity.name = name;
  if (avatar !== undefined) identity.avatar = avatar;
  if (typeof claims.exp === "number") identity.exp = claims.exp;
  return identity;
}

function firstClaim(claims: Claims, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = claims[name];
    if (typeof value === "string" && value !== "") return value;
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
  }
  return undefined;
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function rolesOf(claims: Claims): string[] {
  if (Array.isArray(claims.roles)) return claims.roles.filter((role): role is string => typeof role === "string");
  return typeof claims.role === "string" && claims.role !== "" ? [claims.role] : [];
}

/**
 * The identity a client names in its handshake when it sends no token (trusted only when
 * AuthConfig.trustHandshakeIdentity): CONNECT `auth.userId`/`user_id` with `username`/`name` and
 * `avatar`, else `?userId=`/`?user_id=`; a socket naming nobody is anonymous (`anonymous:<random>`).
 */
export function handshakeIdentity(from: { auth?: unknown; query?: Bag }): UserIdentity {
  const auth = from.auth !== null && typeof from.auth === "object" ? (from.auth as Record<string, unknown>) : {};
  const id = idOf(auth.userId) ?? idOf(auth.user_id) ?? read(from.query, "userId") ?? read(from.query, "user_id");
  const identity: UserIdentity = { id: id ?? `anonymous:${crypto.randomUUID()}`, roles: [] };
  const name = stringClaim(auth.username) ?? stringClaim(auth.name) ?? read(from.query, "username");
  const avatar = stringClaim(auth.avatar);
  const tenantId = idOf(auth.tenantId) ?? idOf(auth.tenant_id);
  if (name !== undefined) identity.name = name;
  if (avatar !== undefined) identity.avatar = avatar;
  if (tenantId !== undefined) identity.tenantId = tenantId;
  return identity;
}

function idOf(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return stringClaim(value);
}

type Bag = Headers | URLSearchParams | Record<string, unknown> | undefined | null;

/** The token a client presented: CONNECT `auth.token`, then `?token=`, then `Authorization: Bearer`. */
export function extractToken(from: { auth?: unknown; query?: Bag; headers?: Bag }): string | undefined {
  const fromAuth = from.auth !== null && typeof from.auth === "object" ? (from.auth as { token?: unknown }).token : undefined;
  if (typeof fromAuth === "string" && fromAuth !== "") return stripBearer(fromAuth);
  const fromQuery = read(from.query, "token");
  if (fromQuery) return fromQuery;
  const header = read(from.headers, "authorization") ?? read(from.headers, "Authorization");
  return header && /^bearer\s+/i.test(header) ? stripBearer(header) || undefined : undefined;
}

function stripBearer(value: string): string {
  return value.replace(/^bearer\s+/i, "").trim();
}

function read(bag: Bag, name: string): string | undefined {
  if (!bag) return undefined;
  const value = bag instanceof Headers || bag instanceof URLSearchParams ? bag.get(name) : bag[name];
  if (Array.isArray(value)) return typeof value[0] === "string" ? value[0] : undefined;
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * A token the configured verifier accepts, for development and operators (`bunsen token`): signed
 * with JWT_SECRET (its first allowed algorithm) in jwt mode, unsigned in development mode. Throws
 * when the server only holds a public key or a JWKS URL: such tokens come from the identity provider.
 */
export async function issueToken(options: VerifierOptions, claims: Claims, expiresIn: string | number): Promise<string> {
  const withAudience = (jwt: SignJWT | UnsecuredJWT) => {
    if (options.issuer) jwt.setIssuer(options.issuer);
    if (options.audience) jwt.setAudience(options.audience);
    return jwt.setIssuedAt().setExpirationTime(expiresIn);
  };
  if (options.mode === "development") return (withAudience(new UnsecuredJWT(claims)) as UnsecuredJWT).encode();
  if (!options.secret)
    throw new Error("this server verifies tokens with a public key (JWT_PUBLIC_KEY or JWT_JWKS_URL): get tokens from the identity provider that holds the private key");
  const alg = options.algorithms[0] ?? "HS256";
  return (withAudience(new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" })) as SignJWT).sign(new TextEncoder().encode(options.secret));
}

import { describe, expect, test } from "bun:test";
import { SignJWT, UnsecuredJWT, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, type JWTPayload } from "jose";
import { loadConfig } from "../../src/config.ts";
import { AUTH_ERRORS, createVerifier, extractToken, toIdentity } from "../../src/auth/jwt.ts";
import { configureLog } from "../../src/log.ts";

configureLog("silent");

const SECRET = "a-test-secret-that-is-long-enough-for-hs256!";
const nowS = () => Math.floor(Date.now() / 1000);

function hs256(claims: JWTPayload, secret = SECRET, alg = "HS256"): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
}

describe("jwt mode with a shared secret", () => {
  const verifier = createVerifier(loadConfig({ JWT_SECRET: SECRET, JWT_ISSUER: "https://idp.example", JWT_AUDIENCE: "bunsen" }).auth);
  const good = { sub: "u1", iss: "https://idp.example", aud: "bunsen" };

  test("accepts a valid HS256 token and maps it to an identity", async () => {
    const exp = nowS() + 60;
    const token = await hs256({ ...good, tenant_id: "t1", name: "Ada", picture: "https://img/a.png", roles: ["admin", 7], exp });
    expect(await (await verifier).identify(token)).toEqual({
      id: "u1", tenantId: "t1", name: "Ada", avatar: "https://img/a.png", roles: ["admin"], exp,
    });
  });

  test("returns token_missing, token_invalid and token_expired as values", async () => {
    const v = await verifier;
    expect(await v.verify(undefined)).toBe(AUTH_ERRORS.token_missing);
    expect(await v.verify("")).toBe(AUTH_ERRORS.token_missing);
    expect(await v.verify("not.a.jwt")).toBe(AUTH_ERRORS.token_invalid);
    expect(await v.verify(await hs256(good, "the-wrong-secret-the-wrong-secret-the-wrong"))).toBe(AUTH_ERRORS.token_invalid);
    // Outside the 5 s clock tolerance.
    expect(await v.verify(await hs256({ ...good, exp: nowS() - 30 }))).toBe(AUTH_ERRORS.token_expired);
    expect(await v.verify(await hs256({ ...good, nbf: nowS() + 300 }))).toBe(AUTH_ERRORS.token_invalid);
  });

  test("accepts an exp within the clock tolerance", async () => {
    expect(await (await verifier).verify(await hs256({ ...good, exp: nowS() - 2 }))).toMatchObject({ sub: "u1" });
  });

  test("rejects a mismatched issuer or audience, and a token without a user id", async () => {
    const v = await verifier;
    expect(await v.verify(await hs256({ ...good, iss: "https://evil.example" }))).toBe(AUTH_ERRORS.token_invalid);
    expect(await v.verify(await hs256({ ...good, aud: "other" }))).toBe(AUTH_ERRORS.token_invalid);
    expect(await v.verify(await hs256({ iss: good.iss, aud: good.aud, name: "nobody" }))).toBe(AUTH_ERRORS.token_invalid);
  });

  test("rejects alg none", async () => {
    const unsigned = new UnsecuredJWT(good).encode();
    expect(await (await verifier).verify(unsigned)).toBe(AUTH_ERRORS.token_invalid);
  });

  test("rejects an algorithm outside the allow-list", async () => {
    const onlyHs512 = await createVerifier(loadConfig({ JWT_SECRET: SECRET, JWT_ALGORITHMS: "HS512" }).auth);
    expect(await onlyHs512.verify(await hs256({ sub: "u1" }))).toBe(AUTH_ERRORS.token_invalid);
    expect(await onlyHs512.verify(await hs256({ sub: "u1" }, SECRET, "HS512"))).toMatchObject({ sub: "u1" });
  });
});

describe("jwt mode with a public key", () => {
  const keys = generateKeyPair("RS256", { extractable: true });

  test("accepts RS256 and PS256 tokens signed by the matching private key", async () => {
    const { publicKey, privateKey } = await keys;
    const verifier = await createVerifier(loadConfig({ JWT_PUBLIC_KEY: await exportSPKI(publicKey) }).auth);
    const pkcs8 = await exportPKCS8(privateKey);
    for (const alg of ["RS256", "PS256"]) {
      // WebCrypto binds a key to one algorithm: re-import the same private key for each.
      const token = await new SignJWT({ user_id: 42 }).setProtectedHeader({ alg }).sign(await importPKCS8(pkcs8, alg));
      expect(await verifier.identify(token)).toEqual({ id: "42", roles: [] });
    }
  });

  test("rejects an HS256 token whose secret is the public key (algorithm confusion)", async () => {
    const pem = await exportSPKI((await keys).publicKey);
    const verifier = await createVerifier(loadConfig({ JWT_PUBLIC_KEY: pem }).auth);
    expect(await verifier.verify(await hs256({ sub: "attacker" }, pem))).toBe(AUTH_ERRORS.token_invalid);
  });

  test("rejects a token signed by another key", async () => {
    const other = await generateKeyPair("RS256");
    const verifier = await createVerifier(loadConfig({ JWT_PUBLIC_KEY: await exportSPKI((await keys).publicKey) }).auth);
    const token = await new SignJWT({ sub: "u1" }).setProtectedHeader({ alg: "RS256" }).sign(other.privateKey);
    expect(await verifier.verify(token)).toBe(AUTH_ERRORS.token_invalid);
  });
});

describe("jwt mode with a JWKS endpoint", () => {
  test("verifies against keys served over real HTTP and picks the key by kid", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    let fetches = 0;
    using server = Bun.serve({
      port: 0,
      fetch() {
        fetches++;
        return Response.json({ keys: [jwk] });
      },
    });
    const verifier = await createVerifier(loadConfig({ JWT_JWKS_URL: new URL("/jwks.json", server.url).href }).auth);
    const sign = (kid: string) => new SignJWT({ sub: "u9", tenantId: "acme" }).setProtectedHeader({ alg: "ES256", kid }).sign(privateKey);
    expect(await verifier.identify(await sign("k1"))).toEqual({ id: "u9", tenantId: "acme", roles: [] });
    expect(await verifier.identify(await sign("k1"))).toEqual({ id: "u9", tenantId: "acme", roles: [] });
    expect(fetches).toBe(1);
    expect(await verifier.verify(await sign("unknown"))).toBe(AUTH_ERRORS.token_invalid);
    expect(await verifier.verify(await hs256({ sub: "u9" }))).toBe(AUTH_ERRORS.token_invalid);
  });
});

describe("development mode", () => {
  const verifier = createVerifier(loadConfig({}).auth);

  test("accepts unsigned JWTs, base64url payloads and raw JSON without verifying them", async () => {
    const v = await verifier;
    expect(v.mode).toBe("development");
    const payload = Buffer.from(JSON.stringify({ userId: "dev1" })).toString("base64url");
    expect(await v.identify(new UnsecuredJWT({ sub: "dev0" }).encode())).toEqual({ id: "dev0", roles: [] });
    expect(await v.identify(payload)).toEqual({ id: "dev1", roles: [] });
    expect(await v.identify('{"user_id":"dev2","role":"agent"}')).toEqual({ id: "dev2", roles: ["agent"] });
    expect(await v.identify(await hs256({ sub: "dev3" }, "whatever-secret-whatever-secret-whatever"))).toEqual({ id: "dev3", roles: [] });
  });

  test("still requires an id claim and an unexpired token", async () => {
    const v = await verifier;
    expect(await v.verify(new UnsecuredJWT({ name: "no id" }).encode())).toBe(AUTH_ERRORS.token_invalid);
    expect(await v.verify(new UnsecuredJWT({ sub: "u" }).setExpirationTime(nowS() - 60).encode())).toBe(AUTH_ERRORS.token_expired);
    expect(await v.verify("%%%")).toBe(AUTH_ERRORS.token_invalid);
    expect(await v.verify(undefined)).toBe(AUTH_ERRORS.token_missing);
  });

  test("warns loudly once, at creation", async () => {
    const lines: string[] = [];
    configureLog("warn", (line) => lines.push(line));
    try {
      const v = await createVerifier(loadConfig({}).auth);
      await v.verify('{"sub":"a"}');
      await v.verify('{"sub":"b"}');
    } finally {
      configureLog("silent");
    }
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: "warn", msg: expect.stringContaining("development mode: tokens are NOT verified") }),
    ]);
  });
});

describe("claims to identity", () => {
  const names = { userIdClaims: ["sub", "user_id", "userId"], tenantIdClaims: ["tenant_id", "tenantId"] };

  test.each([
    [{ sub: "a", user_id: "b" }, { id: "a", roles: [] }],
    [{ user_id: "b", userId: "c" }, { id: "b", roles: [] }],
    [{ sub: "", userId: "c", tenantId: "t" }, { id: "c", tenantId: "t", roles: [] }],
    [{ sub: "a", username: "ada", avatar: "x.png", role: "admin" }, { id: "a", name: "ada", avatar: "x.png", roles: ["admin"] }],
    [{ sub: "a", name: "Ada", username: "ada", roles: "admin" }, { id: "a", name: "Ada", roles: [] }],
  ])("maps %j", (claims, identity) => {
    expect(toIdentity(claims, names)).toEqual(identity);
  });

  test("honours configured claim names", () => {
    expect(toIdentity({ sub: "a", uid: "z", org: "o" }, { userIdClaims: ["uid"], tenantIdClaims: ["org"] })).toEqual({
      id: "z", tenantId: "o", roles: [],
    });
  });
});

describe("extractToken", () => {
  test("prefers auth.token, then ?token=, then Authorization: Bearer", () => {
    const query = new URLSearchParams("token=q");
    const headers = new Headers({ authorization: "Bearer h" });
    expect(extractToken({ auth: { token: "a" }, query, headers })).toBe("a");
    expect(extractToken({ auth: { token: "Bearer a2" } })).toBe("a2");
    expect(extractToken({ auth: {}, query, headers })).toBe("q");
    expect(extractToken({ query: { token: "q2" }, headers })).toBe("q2");
    expect(extractToken({ auth: { token: 5 }, headers })).toBe("h");
    expect(extractToken({ headers: { authorization: "Bearer h2" } })).toBe("h2");
    expect(extractToken({ headers: { authorization: "Basic abc" } })).toBeUndefined();
    expect(extractToken({})).toBeUndefined();
  });
});

// /demo and /dashboard in headless Chromium (Debian's, driven by playwright-core): two demo pages
// chat, a message goes pending → confirmed on the sender's page and reaches the other page; the
// dashboard's counts follow the connections. Screenshots land in test/.artifacts/ (issue 4).
// Skips only when /usr/bin/chromium is missing locally; .ci/install-browser.sh installs it in CI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startApp, tokenFor, type TestApp } from "../support/app.ts";
import { connect } from "../support/client.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dir, "..", ".artifacts");
const ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT_MS = 30_000;

describe.skipIf(!existsSync(CHROMIUM))("pages in headless Chromium", () => {
  let server: TestApp;
  let context: BrowserContext;
  let userDataDir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    userDataDir = mkdtempSync(join(tmpdir(), "bunsen-chromium-"));
    server = await startApp();
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: ARGS, headless: true, viewport: { width: 1100, height: 760 } });
  }, TIMEOUT_MS);

  afterAll(async () => {
    await context?.close();
    await server?.[Symbol.asyncDispose]();
    rmSync(userDataDir, { recursive: true, force: true });
  });

  async function open(path: string): Promise<Page> {
    const page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(`${path}: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") pageErrors.push(`${path}: ${msg.text()}`);
    });
    await page.goto(server.url + path);
    return page;
  }

  async function joinDemo(page: Page, token: string, room: string): Promise<void> {
    await page.fill("#token", token);
    await page.fill("#room", room);
    await page.click("#connect");
    await page.waitForSelector("#chat:not(.hidden)");
    await page.waitForSelector("#messages li.system");
  }

  test("two demo pages chat: the message shows pending then confirmed for the sender, and reaches the other page", async () => {
    const alice = await open("/demo");
    const bob = await open("/demo");
    await joinDemo(alice, await tokenFor({ sub: "alice", name: "Alice" }), "lobby");
    await joinDemo(bob, await tokenFor({ sub: "bob", name: "Bob" }), "lobby");

    // Typing reaches the other page as "Alice is typing…".
    await alice.fill("#message", "hello bob");
    await bob.waitForFunction(() => document.getElementById("typing")!.textContent!.includes("Alice is typing"));

    await alice.click("#send");
    const onBob = bob.locator("#messages li", { hasText: "hello bob" });
    await onBob.waitFor();
    expect(await onBob.locator(".who").textContent()).toBe("Alice:");
    const onAlice = alice.locator("#messages li.confirmed", { hasText: "hello bob" });
    await onAlice.waitFor();
    expect(await onAlice.locator(".state").textContent()).toBe("confirmed");
    await bob.locator("#messages li.confirmed", { hasText: "hello bob" }).waitFor();
    await bob.waitForFunction(() => document.getElementById("typing")!.textContent === "");

    // A post to a room the sender has not joined fails, with the reason, on the sender's page only.
    await alice.fill("#message", "nobody hears this");
    await alice.click("#send-elsewhere");
    const failed = alice.locator("#messages li.failed", { hasText: "nobody hears this" });
    await failed.waitFor();
    expect(await failed.locator(".state").textContent()).toBe("failed: join the room before posting to it");

    await alice.screenshot({ path: join(ARTIFACTS, "demo-sender.png") });
    await bob.screenshot({ path: join(ARTIFACTS, "demo-receiver.png") });
    expect(await bob.locator("#messages li", { hasText: "nobody hears this" }).count()).toBe(0);
    expect(pageErrors).toEqual([]);
    await Promise.all([alice.close(), bob.close()]);
  }, TIMEOUT_MS);

  test("the dashboard refuses a non-admin token, then shows the counts change live", async () => {
    const page = await open("/dashboard");
    await page.fill("#token", await tokenFor({ sub: "mallory", roles: ["user"] }));
    await page.click("#connect");
    await page.waitForFunction(() => document.getElementById("login-error")!.textContent!.includes("unauthorized"));

    await page.fill("#token", await tokenFor({ sub: "ops", name: "Ops", roles: ["admin"] }));
    await page.click("#connect");
    await page.waitForSelector("#board:not(.hidden)");
    await page.waitForFunction(() => document.getElementById("tile-sockets")!.textContent !== "–");
    const before = Number(await page.textContent("#tile-sockets"));

    const tokens = await Promise.all(["carol", "dave", "erin"].map((sub) => tokenFor({ sub, name: sub })));
    const sockets = await Promise.all(tokens.map((token) => connect(server.url + "/", { auth: { token }, transports: ["websocket"] })));
    try {
      await Promise.all(sockets.map((s) => s.emitWithAck("joinRoom", { roomId: "dash-room" })));
      await page.waitForFunction((n) => Number(document.getElementById("tile-sockets")!.textContent) === n, before + 3);
      expect(Number(await page.textContent("#tile-users"))).toBeGreaterThanOrEqual(3);
      const row = page.locator("#namespaces tr", { hasText: "/admin" });
      expect(await row.locator("td").allTextContents()).toEqual(["/admin", "1", "1", "1"]);
      await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    } finally {
      for (const s of sockets) s.disconnect();
    }
    await page.waitForFunction((n) => Number(document.getElementById("tile-sockets")!.textContent) === n, before);
    expect(pageErrors.filter((e) => !e.includes("unauthorized"))).toEqual([]);
    await page.close();
  }, TIMEOUT_MS);

  test("the pages and their assets are served with a strict CSP and no external resource", async () => {
    for (const path of ["/demo", "/dashboard", "/assets/socket.io.min.js", "/assets/dashboard.js"]) {
      const res = await fetch(server.url + path);
      expect([path, res.status, res.headers.get("content-security-policy")?.includes("script-src 'self'")]).toEqual([path, 200, true]);
      const text = await res.text();
      if (path.endsWith(".js")) continue;
      expect(text.match(/(src|href)="[^"]*"/g)!.every((ref) => /="(\/assets\/|data:)/.test(ref))).toBe(true);
    }
    expect((await fetch(server.url + "/assets/../app.ts")).status).toBe(404);
    expect((await fetch(server.url + "/assets/nope.js")).status).toBe(404);
  });
});

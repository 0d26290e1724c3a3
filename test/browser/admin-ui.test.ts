// The Socket.IO Admin UI served by the ready server (/admin-ui/), in headless Chromium (Debian's,
// driven by playwright-core): log in, see the app's sockets and rooms, follow a join, disconnect a
// socket from the UI. Screenshots go to a temporary folder (printed). Skips without /usr/bin/chromium.
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startApp, tokenFor } from "../support/app.ts";
import { connect, nextEvent } from "../support/client.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

test.skipIf(!existsSync(CHROMIUM))("the Admin UI logs in, lists sockets and rooms, follows a join and disconnects a socket", async () => {
  const shots = mkdtempSync(join(tmpdir(), "bunsen-admin-ui-"));
  console.log("admin ui screenshots in", shots);
  await using server = await startApp({ env: { ADMIN_UI_USERNAME: "admin", ADMIN_UI_PASSWORD: "correct horse" } });
  using alice = await connect(server.url, { auth: { token: await tokenFor({ sub: "alice", name: "Alice" }) } });
  const aliceId = alice.id!;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await page.goto(server.url + "/admin-ui/");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("correct horse");
    await page.screenshot({ path: join(shots, "1-login.png") });
    await page.getByRole("button", { name: "Connect" }).click();
    await page.locator(".v-chip", { hasText: /^connected$/i }).first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(shots, "2-dashboard.png") });

    await page.goto(server.url + "/admin-ui/#/sockets/");
    const row = page.locator("tr", { hasText: aliceId });
    await row.waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(shots, "3-sockets.png") });

    // A join made by the app shows in the rooms list.
    server.app.io.of("/").in(aliceId).socketsJoin("live-room");
    await page.goto(server.url + "/admin-ui/#/rooms/");
    await page.locator("tr", { hasText: "live-room" }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(shots, "4-rooms.png") });

    // Disconnect from the sockets list: the client hears the server disconnect it.
    await page.goto(server.url + "/admin-ui/#/sockets/");
    const gone = nextEvent(alice, "disconnect");
    await page.locator("tr", { hasText: aliceId }).locator("button:has(.mdi-logout)").click();
    const confirm = page.getByRole("button", { name: /^(confirm|disconnect|yes)$/i });
    if (await confirm.count() > 0) await confirm.first().click();
    expect((await gone)[0]).toBe("io server disconnect");
    await page.goto(server.url + "/admin-ui/#/sockets/");
    await page.waitForFunction((id) => !document.body.innerText.includes(id), aliceId, { timeout: 15_000 });
    await page.screenshot({ path: join(shots, "5-after-disconnect.png") });
  } finally {
    await browser.close();
  }
}, 90_000);

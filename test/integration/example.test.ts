// The README's library example is examples/chat.ts, verbatim: it must run and stay in the README.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { chatServer } from "../../examples/chat.ts";
import { client, connect, nextEvent } from "../support/client.ts";

test("the README's chat example runs: join, say, typing, left", async () => {
  const io = chatServer();
  const bun = io.listen({ port: 0, hostname: "127.0.0.1" });
  const url = `http://127.0.0.1:${bun.port}`;
  try {
    using anonymous = client(url);
    expect((await nextEvent(anonymous, "connect_error"))[0].message).toBe("name required");
    using ada = await connect(url, { auth: { name: "ada" } });
    using bob = await connect(url, { auth: { name: "bob" } });
    expect(await ada.emitWithAck("join", "lab")).toEqual({ ok: true });
    await bob.emitWithAck("join", "lab");
    const said = nextEvent(bob, "said");
    ada.emit("say", "lab", "hello");
    expect((await said)[0]).toMatchObject({ from: "ada", text: "hello" });
    const typing = nextEvent(bob, "typing");
    ada.emit("typing", "lab");
    expect(await typing).toEqual(["ada"]);
    const left = nextEvent(bob, "left");
    ada.disconnect();
    expect(await left).toEqual(["ada"]);
  } finally {
    await io.close();
  }
});

test("the README shows examples/chat.ts verbatim", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const example = readFileSync(new URL("../../examples/chat.ts", import.meta.url), "utf8");
  expect(readme).toContain(example.replace('from "../src/index.ts"', 'from "bunsen"').trim());
});

// Typing indicators of the ready server: relayed to the room but not the sender, members only,
// expiring by themselves, in each namespace's vocabulary (seeds 000, 002, 003, 004).
import { describe, expect, test } from "bun:test";
import { startApp, tokenFor } from "../support/app.ts";
import { connect, nextEvent } from "../support/client.ts";

async function user(url: string, sub: string, nsp = "/") {
  const token = await tokenFor({ sub, name: sub.toUpperCase() });
  return connect(url + nsp, { auth: { token }, transports: ["websocket"] });
}

describe("typing", () => {
  test.concurrent("is relayed to the others in the room, not the sender, and expires by itself", async () => {
    await using server = await startApp({ modules: { typingTtlMs: 150 } });
    using alice = await user(server.url, "alice");
    using bob = await user(server.url, "bob");
    await alice.emitWithAck("joinRoom", { roomId: "r1" });
    await bob.emitWithAck("joinRoom", { roomId: "r1" });

    const bobSees = nextEvent(bob, "typing");
    const aliceSees = nextEvent(alice, "typing");
    const started = performance.now();
    expect(await alice.emitWithAck("typing", { roomId: "r1", userId: "mallory" })).toEqual({ ok: true, data: { roomId: "r1", action: "start" } });
    // The sender comes from the token, not from the payload.
    expect(await bobSees).toEqual([{ roomId: "r1", userId: "alice", name: "ALICE", isTyping: true }]);
    // Nobody sends a stop: the server does, once the state was not refreshed for the TTL.
    const [stopped] = await nextEvent(bob, "stopTyping");
    expect(stopped).toEqual({ roomId: "r1", userId: "alice", name: "ALICE", isTyping: false });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);

    // Had alice received her own start, it would be the first `typing` she saw, not bob's.
    bob.emit("typing", { roomId: "r1" });
    expect((await aliceSees)[0]).toMatchObject({ userId: "bob" });
  });

  test.concurrent("an explicit stop is relayed, and only members may type into a room", async () => {
    await using server = await startApp();
    using alice = await user(server.url, "alice");
    using bob = await user(server.url, "bob");
    using carol = await user(server.url, "carol");
    await alice.emitWithAck("joinRoom", { roomId: "r1" });
    await bob.emitWithAck("joinRoom", { roomId: "r1" });

    expect(await carol.emitWithAck("typing", { roomId: "r1" })).toMatchObject({ ok: false, error: { code: "not_a_member" } });
    expect(await carol.emitWithAck("typing", {})).toMatchObject({ ok: false, error: { code: "bad_request" } });

    const started = nextEvent(bob, "typing");
    alice.emit("typing", { roomId: "r1" });
    // carol's refused start never reached bob: the first start he sees is alice's.
    expect((await started)[0]).toMatchObject({ userId: "alice" });
    const stopped = nextEvent(bob, "stopTyping");
    alice.emit("stopTyping", { roomId: "r1" });
    expect((await stopped)[0]).toMatchObject({ roomId: "r1", userId: "alice", isTyping: false });
  });

  test.concurrent("a socket that disconnects while typing stops typing", async () => {
    await using server = await startApp();
    const alice = await user(server.url, "alice");
    using bob = await user(server.url, "bob");
    await alice.emitWithAck("joinRoom", { roomId: "r1" });
    await bob.emitWithAck("joinRoom", { roomId: "r1" });
    const started = nextEvent(bob, "typing");
    alice.emit("typing", { roomId: "r1" });
    await started;
    const stopped = nextEvent(bob, "stopTyping");
    alice.disconnect();
    expect((await stopped)[0]).toMatchObject({ roomId: "r1", userId: "alice" });
  });

  test.concurrent("each namespace speaks its seed's vocabulary: /chat, /messaging, /social", async () => {
    await using server = await startApp({ modules: { typingTtlMs: 200 } });

    // Seed 004 (/chat): typing / stopTyping {conversationId}.
    using chatA = await user(server.url, "alice", "/chat");
    using chatB = await user(server.url, "bob", "/chat");
    await chatA.emitWithAck("join", { conversationId: "c1" });
    await chatB.emitWithAck("join", { conversationId: "c1" });
    const chatTyping = nextEvent(chatB, "typing");
    chatA.emit("typing", { conversationId: "c1" });
    expect((await chatTyping)[0]).toEqual({ conversationId: "c1", userId: "alice", name: "ALICE", isTyping: true });
    const chatStop = nextEvent(chatB, "stopTyping");
    chatA.emit("stopTyping", { conversationId: "c1" });
    expect((await chatStop)[0]).toMatchObject({ conversationId: "c1", userId: "alice", isTyping: false });

    // Seed 003 (/messaging): message:typing {conversationId, action} both ways.
    using msgA = await user(server.url, "alice", "/messaging");
    using msgB = await user(server.url, "bob", "/messaging");
    await msgA.emitWithAck("message:join", { conversationId: "c2" });
    await msgB.emitWithAck("message:join", { conversationId: "c2" });
    const msgStart = nextEvent(msgB, "message:typing");
    msgA.emit("message:typing", { conversationId: "c2", action: "start" });
    expect((await msgStart)[0]).toEqual({ conversationId: "c2", userId: "alice", username: "ALICE", name: "ALICE", action: "start" });
    const msgExpired = nextEvent(msgB, "message:typing");
    expect((await msgExpired)[0]).toMatchObject({ conversationId: "c2", userId: "alice", action: "stop" });
    expect(await msgA.emitWithAck("message:typing", { conversationId: "c2", action: "dance" })).toMatchObject({ ok: false, error: { code: "bad_request" } });

    // Seeds 000/003 (/social): typing_start / typing_stop {post_id} → user:typing.
    using socialA = await user(server.url, "alice", "/social");
    using socialB = await user(server.url, "bob", "/social");
    await socialA.emitWithAck("joinRoom", { roomId: "post-9" });
    await socialB.emitWithAck("joinRoom", { roomId: "post-9" });
    const socialStart = nextEvent(socialB, "user:typing");
    socialA.emit("typing_start", { post_id: "post-9" });
    expect((await socialStart)[0]).toEqual({ postId: "post-9", post_id: "post-9", userId: "alice", username: "ALICE", name: "ALICE", action: "start" });
    const socialStop = nextEvent(socialB, "user:typing");
    socialA.emit("typing_stop", { post_id: "post-9" });
    expect((await socialStop)[0]).toMatchObject({ postId: "post-9", action: "stop" });
  });
});

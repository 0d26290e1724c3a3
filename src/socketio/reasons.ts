// Why a Socket.IO socket disconnected, spelled as socket.io's server reports it (docs "Disconnection").
import type { EngineCloseReason } from "../engine/session.ts";

export type DisconnectReason =
  | EngineCloseReason
  | "forced server close"
  | "client namespace disconnect"
  | "server namespace disconnect";

/** Reasons after which connection state recovery may restore the session (socket.io lib/socket.ts). */
export const RECOVERABLE_REASONS: ReadonlySet<DisconnectReason> = new Set([
  "transport error", "transport close", "forced close", "ping timeout", "server shutting down", "forced server close",
  // The client missed frames it did not read in time: recovery replays them.
  "slow consumer",
]);

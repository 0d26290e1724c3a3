// Bun pub/sub topic names: the only place they are built. A topic carries the namespace so that
// `/chat` room "a" and `/` room "a" never share subscribers.

/** Every socket of a namespace subscribes here, for namespace-wide broadcasts. */
export function topicOfNamespace(nsp: string): string {
  return nsp;
}

export function topicOf(nsp: string, room: string): string {
  // NUL never occurs in a namespace name, so (nsp, room) pairs cannot collide.
  return nsp + "\u0000" + room;
}

// Reads a request body up to a byte limit, without buffering what lies past it: a hostile or
// chunked upload (no Content-Length) is cut at `maxBytes` instead of being read whole first.
// Used by engine/ (long-polling POSTs) and http/ (JSON bodies); Bun's own maxRequestBodySize only
// answers an empty 413, which clients cannot tell from other failures.

/** The body, or null when it is longer than `maxBytes`. */
export async function readBodyCapped(req: Request, maxBytes: number): Promise<Buffer | null> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBytes) return null;
  if (req.body === null) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
    length += chunk.byteLength;
    if (length > maxBytes) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length);
}

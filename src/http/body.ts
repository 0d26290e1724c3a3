// Request bodies: JSON only, bounded, an object at the top; field readers that throw HttpError(400)
// naming the bad field ("to.users[2]: expected a non-empty string").
import { readBodyCapped } from "../read-body.ts";
import { HttpError } from "./errors.ts";

export type Fields = Record<string, unknown>;

/** Parses the body as a JSON object; 413 past `maxBytes`, 415 for another media type, 400 otherwise. */
export async function readJson(req: Request, maxBytes: number): Promise<Fields> {
  const type = req.headers.get("content-type");
  if (type !== null && !/^application\/(.+\+)?json\b/i.test(type)) throw new HttpError(415, `expected application/json, got ${type}`);
  const bytes = await readBodyCapped(req, maxBytes);
  if (bytes === null) throw new HttpError(413, `body exceeds ${maxBytes} bytes`);
  const text = bytes.toString("utf8");
  if (text.trim() === "") throw new HttpError(400, "body: expected a JSON object, got an empty body");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body: invalid JSON (${(err as Error).message})`);
  }
  if (!isObject(value)) throw new HttpError(400, "body: expected a JSON object");
  return value;
}

export function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Refuses fields outside `allowed`, so a typo ("too" for "to") is an error, not a silent no-op. */
export function onlyFields(fields: Fields, allowed: readonly string[], prefix = ""): void {
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key)) throw new HttpError(400, `${prefix}${key}: unknown field (expected one of ${allowed.join(", ")})`);
  }
}

/** A non-empty string (a finite number is accepted and stringified: ids are often numeric). */
export function idString(value: unknown, field: string, maxLength = 256): string {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string" || value === "") throw new HttpError(400, `${field}: expected a non-empty string`);
  if (value.length > maxLength) throw new HttpError(400, `${field}: longer than ${maxLength} characters`);
  return value;
}

export function optionalString(value: unknown, field: string, maxLength = 256): string | undefined {
  return value === undefined || value === null ? undefined : idString(value, field, maxLength);
}

/** One id or a list of ids; `[]` when absent. */
export function idList(value: unknown, field: string, maxItems = 1_000): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return [idString(value, field)];
  if (value.length > maxItems) throw new HttpError(400, `${field}: at most ${maxItems} entries`);
  return value.map((item, i) => idString(item, `${field}[${i}]`));
}

export function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw new HttpError(400, `${field}: expected true or false`);
  return value;
}

export function integerIn(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw new HttpError(400, `${field}: expected an integer from ${min} to ${max}`);
  return value;
}

export function optionalObject(value: unknown, field: string): Fields | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new HttpError(400, `${field}: expected an object`);
  return value;
}

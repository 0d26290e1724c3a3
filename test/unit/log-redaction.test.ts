// The log's one redaction (src/log.ts): what each kind of field a line can carry looks like once written.
import { expect, test } from "bun:test";
import { configureLog, log } from "../../src/log.ts";

const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";

test("URLs, query strings, headers, credential-named fields, errors and JWT-shaped strings are written as ***", () => {
  const lines: string[] = [];
  configureLog("debug", (line) => lines.push(line));
  try {
    log.debug?.("engine request refused", {
      url: `http://h/socket.io/?EIO=4&transport=polling&sid=s1&token=${JWT}&api_key=k1&x=1`,
      headers: new Headers({ authorization: "Bearer b1", accept: "text/plain" }),
      hint: "cannot use the database at DATABASE_URL=postgres://app:pw1@db:5432/app",
      password: "pw2", apiKey: "k2", auth: { sessionKey: "s2" }, note: `got ${JWT}`,
      packet: { type: 0, nsp: "/chat", data: { sessionKey: "s3" } }, err: new Error(`refused Authorization: Basic dXNlcjpwdw==`),
    });
  } finally {
    configureLog("info");
  }
  const [line] = lines;
  for (const secret of [JWT, "k1", "b1", "pw1", "pw2", "k2", "s2", "s3", "dXNlcjpwdw=="]) expect(line).not.toContain(secret);
  expect(JSON.parse(line!)).toMatchObject({
    url: "http://h/socket.io/?EIO=4&transport=polling&sid=s1&token=***&api_key=***&x=1",
    headers: { authorization: "***", accept: "text/plain" },
    hint: "cannot use the database at DATABASE_URL=postgres://app:***@db:5432/app",
    password: "***", apiKey: "***", auth: "***", note: "got ***",
    packet: { type: 0, nsp: "/chat", data: "***" }, err: { message: "refused Authorization: Basic ***" },
  });
});

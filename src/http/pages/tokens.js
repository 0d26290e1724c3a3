// Tokens for the pages: remembered per tab, and in development mode (the server verifies nothing)
// minted here as an unsigned JWT, `{"alg":"none"}.{claims}.` — what src/auth/jwt.ts accepts then.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="bunsen-auth-mode"]');
  const authMode = meta ? meta.content : "jwt";

  function base64url(text) {
    const bytes = new TextEncoder().encode(text);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function mintUnsigned(claims) {
    const header = base64url(JSON.stringify({ alg: "none", typ: "JWT" }));
    const payload = base64url(JSON.stringify({ iat: Math.floor(Date.now() / 1000), ...claims }));
    return header + "." + payload + ".";
  }

  /** The claims of a token, unverified (for display only). */
  function claimsOf(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const binary = atob(part);
      const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return {};
    }
  }

  window.BunsenTokens = {
    authMode,
    isDevelopment: authMode === "development",
    mintUnsigned,
    claimsOf,
    remember: (key, token) => sessionStorage.setItem("bunsen:" + key, token),
    recall: (key) => sessionStorage.getItem("bunsen:" + key) || "",
  };
})();

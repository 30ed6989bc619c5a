/**
 * XEP-0288 bidirectional streams with Prosody 0.12 and mod_s2s_bidi, both openers: P-bidi in
 * certificate mode (SASL EXTERNAL only), one connection either way; P-bidi-db in dialback mode,
 * where the receiving server verifies over a connection of its own (XEP-0288 §2.2). Runs inside
 * the interop world (run.ts).
 */
import { bidiCell } from "./bidi-cell.js";

bidiCell("bidip", "prosody", { method: "sasl_external", connections: 1 });
bidiCell("bidio", "ours", { method: "sasl_external", connections: 1 });
bidiCell("bidbp", "prosody", { method: "dialback", connections: 1 });
bidiCell("bidbo", "ours", { method: "dialback", connections: 2, why: "Prosody verifies our key over a connection of its own and keeps it" });

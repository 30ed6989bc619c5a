/**
 * XEP-0288 bidirectional streams with Prosody 0.12 and mod_s2s_bidi (P-bidi: certificate mode,
 * SASL EXTERNAL only): Prosody opens the one connection to o-bidip, we open it to o-bidio; either
 * way both directions ride it. Runs inside the interop world (run.ts).
 */
import { bidiCell } from "./bidi-cell.js";

bidiCell("bidip", "prosody");
bidiCell("bidio", "ours");

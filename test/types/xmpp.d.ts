// xmpp.js ships no type declarations; the tests use its component and client as plain JS (ltx
// elements), so they are typed as `any` here rather than guessed.
declare module "@xmpp/component";
declare module "@xmpp/client";

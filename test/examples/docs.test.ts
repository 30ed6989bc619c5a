/**
 * The plugin guide and the example READMEs cannot rot: the code docs/writing-a-plugin.md shows is
 * the code in examples/, and every example configuration they show loads (checkConfigFile runs
 * the whole plugin loader, options included) in an operator's project set up as in user-app.ts.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkConfigFile } from "../../core/index.js";
import { EXAMPLES, REPO, UserApp } from "./user-app.js";

const GUIDE = join(REPO, "docs/writing-a-plugin.md");

/** Fenced code blocks of a Markdown text, with the offset where each starts. */
function fences(markdown: string): Array<{ at: number; lang: string; code: string }> {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ at: m.index!, lang: m[1]!, code: m[2]! }));
}

/** The fenced blocks that follow `<!-- marker -->`. */
function blocksAfter(markdown: string, marker: string, count: number): Array<{ lang: string; code: string }> {
  const at = markdown.indexOf(`<!-- ${marker} -->`);
  assert.notEqual(at, -1, `marker <!-- ${marker} --> not found`);
  return fences(markdown).filter((f) => f.at > at).slice(0, count);
}

describe("docs: the plugin guide and the example READMEs", () => {
  const guide = readFileSync(GUIDE, "utf8");
  let app: UserApp;

  before(() => {
    app = new UserApp();
  });
  after(() => app?.remove());

  for (const example of readdirSync(EXAMPLES)) {
    it(`shows every file of examples/${example} as it is`, () => {
      const files = readdirSync(join(EXAMPLES, example)).filter((f) => f.endsWith(".js") || f === "package.json");
      assert.ok(files.length >= 3);
      for (const file of files) {
        const path = `examples/${example}/${file}`;
        const [block] = blocksAfter(guide, `file: ${path}`, 1);
        assert.equal(block?.code.trimEnd(), readFileSync(join(REPO, path), "utf8").trimEnd(), `${path} differs from what docs/writing-a-plugin.md shows`);
      }
    });

    for (const [doc, text] of [["docs/writing-a-plugin.md", guide], [`examples/${example}/README.md`, readFileSync(join(EXAMPLES, example, "README.md"), "utf8")]] as const) {
      it(`the configuration ${doc} shows for ${example} loads`, async () => {
        const [toml, data] = blocksAfter(text, `example config: ${example}`, 2);
        assert.equal(toml?.lang, "toml");
        const dataFile = /^file = "([^"]+)"/m.exec(toml!.code)?.[1];
        assert.ok(dataFile && data, "the TOML names a file and the doc shows it");
        const dir = `${example}-${doc.replace(/\W+/g, "-")}`;
        app.install(example);
        app.vendor(example, `${dir}/plugins/${example}`);
        app.write(`${dir}/${dataFile}`, data.code);
        const config = app.write(`${dir}/s2s.toml`, `[general]\nhosts = ["a.example"]\n\n${toml!.code}`);
        await checkConfigFile(config);
      });
    }
  }
});

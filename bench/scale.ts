export async function runScaleBench(_argv: readonly string[]): Promise<number> {
  return 2;
}

import fs from 'node:fs';

/**
 * Replaces the text between `begin` and `end` in a Markdown file (or appends the block), then
 * formats the file with the project's Prettier settings, so `npm run format:check` stays clean
 * after every run.
 */
export async function replaceGeneratedBlock(
  file: string,
  begin: string,
  end: string,
  block: string,
  title: string,
): Promise<void> {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : `# ${title}\n`;
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  const next =
    a >= 0 && b > a
      ? text.slice(0, a) + block + text.slice(b + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  fs.writeFileSync(file, await prettier.format(next, { ...options, filepath: file }));
}

/** The network reason an error carries (fetch hides it in `cause`). */
function reason(err: unknown): string {
  const e = err as { message?: string; code?: unknown; cause?: { code?: unknown; message?: string } };
  if (typeof e.cause?.code === 'string') return e.cause.code;
  const text = e.cause?.message ?? e.message ?? String(err);
  return /\b(E[A-Z]{4,})\b/.exec(text)?.[1] ?? text;
}

/**
 * fetch against the Intake API; when nothing answers, the error names the URL it tried and how to
 * point the CLI elsewhere (`fetch failed` alone says neither).
 */
export async function fetchApi(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new Error(
      `cannot reach the Intake API at ${new URL(url).origin} (${reason(err)}): is it running? ` +
        `Set INTAKE_API_URL (or --url), or run eval "$(npx intake env)" for the one \`npm start\` runs`,
      { cause: err },
    );
  }
}

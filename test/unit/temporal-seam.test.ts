import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { processEvent, discardSignal, retrySignal, statusQuery } from '../../workflows/process-event';
import { redriveParked, redriveProgressQuery } from '../../workflows/redrive-parked';
import { PERMANENT_ERROR_TYPE } from '../../workflows/failure-types';
import { PermanentProcessingError } from '../../src/errors';

const root = join(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Code lines of src/ and activities/ that match any pattern. */
function stringlyTyped(patterns: RegExp[]): string[] {
  const hits: string[] = [];
  for (const file of [...sourceFiles('src'), ...sourceFiles('activities')]) {
    readFileSync(join(root, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/^\s*(\*|\/\/|\/\*)/.test(line)) return; // comments may name things
        if (patterns.some((p) => p.test(line))) hits.push(`${file}:${i + 1}: ${line.trim()}`);
      });
  }
  return hits;
}

const q = `['"\`]`;

describe('the Temporal seam is typed by definitions', () => {
  it('names no workflow type as a string outside workflows/', () => {
    expect(
      stringlyTyped([
        new RegExp(`${q}(${processEvent.name}|${redriveParked.name})${q}`),
        new RegExp(`WorkflowType\\s*=\\s*'(?!\\$\\{)`),
        new RegExp(`\\.(start|execute|signalWithStart)\\(\\s*${q}`),
      ]),
    ).toEqual([]);
  });

  it('sends signals and queries by their definitions, never by name', () => {
    expect(
      stringlyTyped([
        new RegExp(`\\.(signal|executeUpdate|startUpdate)(<[^>]*>)?\\(\\s*${q}`),
        // A query name is a camelCase identifier; SQL (`q.query('SELECT …')`, 'BEGIN') is not.
        new RegExp(`\\.query(<[^>]*>)?\\(\\s*${q}[a-z]\\w*${q}`),
      ]),
    ).toEqual([]);
  });

  it('writes the permanent-error type once, in workflows/failure-types.ts', () => {
    expect(stringlyTyped([new RegExp(`${q}${PERMANENT_ERROR_TYPE}${q}`)])).toEqual([]);
    expect(new PermanentProcessingError('x').name).toBe(PERMANENT_ERROR_TYPE);
  });

  it('defines the names the workers and recorded histories use', () => {
    // Renaming any of these breaks running executions: they are part of the contract with history.
    expect([processEvent.name, redriveParked.name]).toEqual(['processEvent', 'redriveParked']);
    expect([retrySignal.name, discardSignal.name, statusQuery.name, redriveProgressQuery.name]).toEqual([
      'retry',
      'discard',
      'status',
      'progress',
    ]);
  });
});

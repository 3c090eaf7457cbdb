import { createHash } from 'node:crypto';
import { issueSignature, normaliseMessage } from '../../src/operations/issue-signature';
import { groupIssues, type ParkedEvent } from '../../src/operations/parked-events';

describe('issue signatures', () => {
  it('normalises quoted values, ids, emails and numbers', () => {
    expect(normaliseMessage(`customer "Ada Lovelace" not found`)).toBe('customer <value> not found');
    expect(normaliseMessage(`duplicate key 'evt_9f8e7d6c'`)).toBe('duplicate key <value>');
    expect(normaliseMessage('row 20240101 of batch 7 failed after 1.5s')).toBe(
      'row <n> of batch <n> failed after <n>s',
    );
    expect(normaliseMessage('message <20240101.abc@mg.example.com> unknown')).toBe('message <email> unknown');
    expect(normaliseMessage('event a1b2c3d4e5 for 0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(
      'event <id> for <id>',
    );
    expect(normaliseMessage('connect ECONNREFUSED 127.0.0.1:5432')).toBe('connect ECONNREFUSED <n>.<n>:<n>');
  });

  it('gives events with the same error the same stable id, and different errors different ones', () => {
    const a = issueSignature('mailgun', 'Error: customer 17 not found');
    const b = issueSignature('mailgun', 'Error: customer 4242 not found');
    expect(a).toEqual({ ...b });
    expect(a).toMatchObject({ errorType: 'Error', message: 'customer <n> not found' });
    expect(a.id).toMatch(/^[0-9a-f]{12}$/);
    expect(issueSignature('partners', 'Error: customer 17 not found').id).not.toBe(a.id);
    expect(issueSignature('mailgun', 'PermanentProcessingError: customer 17 not found').id).not.toBe(a.id);
    expect(issueSignature('mailgun', null)).toMatchObject({ errorType: 'unknown', message: '' });
    // The id is a hash of the signature, not of anything random: fixed across processes and releases.
    expect(issueSignature('mailgun', 'Error: failpoint mailgun.handler').id).toBe(
      issueSignature('mailgun', 'Error: failpoint mailgun.handler').id,
    );
  });

  // The workflow computes the id too (IntakeIssue), without node:crypto: the ids of issues operators
  // already know must not change.
  it('computes the same id as node:crypto did before the workflow wrote it', () => {
    for (const [source, err] of [
      ['mailgun', 'Error: customer 17 not found'],
      ['partners', 'PermanentProcessingError: naïve café ünïcode “quoted” 🚀'],
      ['mailgun', null],
    ] as const) {
      const { errorType, message, id } = issueSignature(source, err);
      const old = createHash('sha256')
        .update(`${source}\n${errorType}\n${message}`)
        .digest('hex')
        .slice(0, 12);
      expect(id).toBe(old);
    }
  });

  it('groups parked events: count, types, first and last parking time, at most five samples', () => {
    const ev = (n: number, type: string, err: string): ParkedEvent => ({
      id: `mailgun:e${n}`,
      source: 'mailgun',
      eventType: type,
      attempts: 3,
      lastError: err,
      parkedAt: `2026-01-01T00:00:${String(n).padStart(2, '0')}.000Z`,
      issue: issueSignature('mailgun', err),
    });
    const events = [
      ...Array.from({ length: 7 }, (_, i) => ev(i, i % 2 ? 'opened' : 'clicked', `Error: row ${i} bad`)),
      ev(30, 'opened', 'Error: timeout'),
    ];
    const [big, small] = groupIssues(events);
    expect(big).toMatchObject({
      count: 7,
      eventTypes: ['clicked', 'opened'],
      firstParkedAt: '2026-01-01T00:00:00.000Z',
      lastParkedAt: '2026-01-01T00:00:06.000Z',
      message: 'row <n> bad',
    });
    expect(big!.sampleIds).toHaveLength(5);
    expect(small).toMatchObject({ count: 1, sampleIds: ['mailgun:e30'] });
  });
});

import type { Preset } from './preset';

/**
 * GitHub (docs.github.com, "Validating webhook deliveries"): `X-Hub-Signature-256: sha256=<hex
 * HMAC-SHA256 of the body>`, delivery id `X-GitHub-Delivery`, event `X-GitHub-Event`. The `ping`
 * GitHub sends when a hook is created is an ordinary event: accepted and delivered.
 */
export const githubPreset: Preset = {
  name: 'github',
  summary:
    'X-Hub-Signature-256 (sha256= hex HMAC of the body); id X-GitHub-Delivery, type X-GitHub-Event; ping delivered; 200',
  hmac: {
    algorithm: 'sha256',
    encoding: 'hex',
    header: 'X-Hub-Signature-256',
    prefix: 'sha256=',
    signedContent: '{body}',
  },
  eventId: { header: 'X-GitHub-Delivery' },
  eventType: { header: 'X-GitHub-Event' },
  successCode: 200,
  example: {
    // The `ping` payload of GitHub's documentation, shortened.
    body: {
      zen: 'Keep it logically awesome.',
      hook_id: 109948940,
      hook: { type: 'Repository', id: 109948940, name: 'web', active: true, events: ['push'] },
      repository: { id: 35129377, name: 'public-repo', full_name: 'baxterthehacker/public-repo' },
      sender: { login: 'baxterthehacker', id: 6752317, type: 'User' },
    },
    headers: {
      'X-GitHub-Event': 'ping',
      'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      'X-GitHub-Hook-ID': '109948940',
      'User-Agent': 'GitHub-Hookshot/044aadd',
    },
  },
};

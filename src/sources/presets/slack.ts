import type { Preset, SourceAnswer } from './preset';

/**
 * Slack Events API (api.slack.com, "Verifying requests from Slack"): `X-Slack-Signature: v0=<hex
 * HMAC-SHA256 of "v0:timestamp:body">`, `X-Slack-Request-Timestamp`, refused beyond 5 minutes.
 * When a Request URL is set up Slack sends a signed `url_verification` with a `challenge`; Intake
 * answers it with the challenge itself (200, text/plain) and starts nothing. Events: id
 * `/event_id`, type `/event/type`.
 */
export const slackPreset: Preset = {
  name: 'slack',
  summary:
    'X-Slack-Signature v0= (hex HMAC of "v0:ts:body"), X-Slack-Request-Timestamp, 300 s; answers url_verification with its challenge; id /event_id, type /event/type; 200',
  hmac: {
    algorithm: 'sha256',
    encoding: 'hex',
    header: 'X-Slack-Signature',
    prefix: 'v0=',
    signedContent: 'v0:{timestamp}:{body}',
    timestampHeader: 'X-Slack-Request-Timestamp',
    toleranceS: 300,
  },
  eventId: { jsonPointer: '/event_id' },
  eventType: { jsonPointer: '/event/type' },
  entity: { jsonPointer: '/event/channel' },
  successCode: 200,
  answer(json: unknown): SourceAnswer | undefined {
    const body = json as { type?: unknown; challenge?: unknown };
    if (body?.type !== 'url_verification' || typeof body.challenge !== 'string') return undefined;
    return { status: 200, contentType: 'text/plain', body: body.challenge };
  },
  example: {
    // The `app_mention` event_callback of Slack's Events API documentation.
    body: {
      token: 'ZZZZZZWSxiZZZ2yIvs3peJ',
      team_id: 'T123ABC456',
      api_app_id: 'A123ABC456',
      event: {
        type: 'app_mention',
        user: 'U123ABC456',
        text: 'What is the hour of the pearl, <@U0LAN0Z89>?',
        ts: '1515449522.000016',
        channel: 'C123ABC456',
        event_ts: '1515449522000016',
      },
      type: 'event_callback',
      event_id: 'Ev123ABC456',
      event_time: 1515449522000016,
      authed_users: ['U0LAN0Z89'],
    },
    headers: {},
  },
};

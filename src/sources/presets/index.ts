import { githubPreset } from './github';
import { mailgunPreset } from './mailgun';
import type { Preset } from './preset';
import { shopifyPreset } from './shopify';
import { slackPreset } from './slack';
import { standardWebhooksPreset } from './standard-webhooks';
import { stripePreset } from './stripe';

/** The preset catalog, by the `preset:` name of a sources-file entry. Adding one: a file and a line. */
export const presets: ReadonlyMap<string, Preset> = new Map(
  [mailgunPreset, standardWebhooksPreset, githubPreset, stripePreset, shopifyPreset, slackPreset].map((p) => [
    p.name,
    p,
  ]),
);

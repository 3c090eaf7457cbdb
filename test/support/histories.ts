import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

/** Where scripts/record-histories.ts writes the recorded histories. */
export const HISTORIES_DIR = path.resolve(__dirname, '..', 'fixtures', 'histories');

type History = proto.temporal.api.history.v1.IHistory;
interface ProtoJson {
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): History;
}

/**
 * Parses a history JSON file (the proto3 JSON that `temporal workflow show --output json` and
 * `historyToJSON` write). It uses the protobufjs copy that @temporalio/proto was built with:
 * `historyFromJSON` from @temporalio/common fails with "type must be a Type" when npm installs
 * two copies of protobufjs 8 side by side (one under common, one under proto), as it does here.
 */
export function loadHistory(file: string): History {
  const protojson = createRequire(require.resolve('@temporalio/proto'))(
    'protobufjs/ext/protojson',
  ) as ProtoJson;
  const type = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
    'temporal.api.history.v1.History',
  );
  return protojson.fromJson(type, JSON.parse(fs.readFileSync(file, 'utf8')), { ignoreUnknownFields: true });
}

/** Every recorded history, by file name without `.json`. */
export function recordedHistories(dir = HISTORIES_DIR): { name: string; history: History }[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), history: loadHistory(path.join(dir, f)) }));
}

import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import {
  CommandBodySchema,
  InboxCommandSchema,
  jsonSchemaText,
  SCHEMA_SOURCES,
} from '../../../src/core/body-schemas.js';
import { buildCommandRow } from '../../../src/core/command-message.js';
import { COMMAND_SCHEMA_VERSION } from '../../../src/core/command-message.js';
import { DEAD_LETTER_SCHEMA_VERSION } from '../../../src/core/dead-letter.js';
import { base64Encode } from '../../../src/core/dsse.js';
import {
  FEDERATION_ACK_TYPE,
  FEDERATION_SCHEMA_VERSION,
  type FederationAckPayload,
} from '../../../src/core/federation-message.js';
import { ackPayloadBytes, buildFederationAckRow } from '../../../src/core/federation-receipt.js';
import { SCHEMA_FILE } from '../../../src/core/schema-names.js';
import { TELEMETRY_SCHEMA_VERSION } from '../../../src/core/telemetry-summary.js';

const dir = new URL('../../../schemas/', import.meta.url);

describe('schemas/', () => {
  it('holds exactly what the zod schemas generate now (npm run schemas rewrites it)', () => {
    for (const { file, schema } of SCHEMA_SOURCES) {
      expect(readFileSync(new URL(file, dir), 'utf8'), `schemas/${file} is stale: run npm run schemas`).toBe(
        jsonSchemaText(schema),
      );
    }
    const sources = SCHEMA_SOURCES.map((s) => s.file).sort();
    expect(readdirSync(dir).sort(), 'a file under schemas/ without a source').toEqual(sources);
  });

  it('names each file with its body’s schemaVersion, and ships schemas/ in the package', () => {
    expect(SCHEMA_FILE.command).toBe(`command.v${COMMAND_SCHEMA_VERSION}.json`);
    expect(SCHEMA_FILE.telemetrySummary).toBe(`telemetry-summary.v${TELEMETRY_SCHEMA_VERSION}.json`);
    expect(SCHEMA_FILE.deadLetter).toBe(`dead-letter.v${DEAD_LETTER_SCHEMA_VERSION}.json`);
    expect(SCHEMA_FILE.deliveryDeadLetter).toBe(`delivery-dead-letter.v${DEAD_LETTER_SCHEMA_VERSION}.json`);
    expect(SCHEMA_FILE.federationEvent).toBe(`federation-event.v${FEDERATION_SCHEMA_VERSION}.json`);
    expect(SCHEMA_FILE.federationAckPayload).toBe(`federation-ack-payload.v${FEDERATION_SCHEMA_VERSION}.json`);
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      files: string[];
    };
    expect(pkg.files).toContain('schemas');
  });

  it('compiles every file under ajv (strict, draft 2020-12); a receipt row validates', () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats.default(ajv);
    for (const { file } of SCHEMA_SOURCES) ajv.addSchema(JSON.parse(readFileSync(new URL(file, dir), 'utf8')), file);
    // Receipts need a partner's sidecar to be published for real; this one is built by the same code.
    const ack: FederationAckPayload = {
      schemaVersion: 1,
      eventId: '01JAAAAAAAAAAAAAAAAAAAAAAA',
      msgId: '01JAAAAAAAAAAAAAAAAAAAAAAA',
      digest: 'a'.repeat(64),
      status: 'rejected',
      reason: 'bad-signature',
      from: 'acme',
      to: 'org',
      receivedAt: new Date(0).toISOString(),
    };
    const payload = base64Encode(ackPayloadBytes(ack));
    const row = buildFederationAckRow({
      ack,
      envelope: {
        payloadType: FEDERATION_ACK_TYPE,
        payload,
        signatures: [{ keyid: 'k', sig: base64Encode(new Uint8Array(64)) }],
      },
      subject: 'root.solar.federation.inbound.acks.org',
      origin: 'me',
      traceparent: 'tp',
      createdAtMs: 0,
    });
    expect(row.headers['Net-Sync-Schema']).toBe(SCHEMA_FILE.federationAck);
    const envelope = ajv.getSchema(SCHEMA_FILE.federationAck)!;
    expect(envelope(JSON.parse(new TextDecoder().decode(row.body))), JSON.stringify(envelope.errors)).toBe(true);
    const validate = ajv.getSchema(SCHEMA_FILE.federationAckPayload)!;
    const decoded = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as unknown;
    expect(validate(decoded), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...ack, status: 'maybe' })).toBe(false);
  });

  it('a command or inbox body has exactly one of payload and payloadRef (the error names the field)', () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats.default(ajv);
    for (const { file } of SCHEMA_SOURCES) ajv.addSchema(JSON.parse(readFileSync(new URL(file, dir), 'utf8')), file);
    const ref = { bucket: 'NET_SYNC_PAYLOADS', name: '01JAAAAAAAAAAAAAAAAAAAAAAA', size: 9, digest: 'a'.repeat(64) };
    const row = buildCommandRow({
      correlationId: '01JAAAAAAAAAAAAAAAAAAAAAAA',
      subject: 'root.solar.command.files.attach',
      payload: undefined,
      payloadRef: ref,
      payloadDigest: ref.digest,
      origin: `12D3KooW${'A'.repeat(44)}`,
      traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
      createdAtMs: 0,
      soleEndorser: true,
    });
    const byRef = JSON.parse(new TextDecoder().decode(row.body)) as Record<string, unknown>;
    const { payloadRef: _, ...bare } = byRef;
    const inline = { ...bare, payload: null };
    const both = { ...byRef, payload: { n: 1 } };
    const command = ajv.getSchema(SCHEMA_FILE.command)!;
    expect(command(byRef), JSON.stringify(command.errors)).toBe(true);
    expect(command(inline), 'a null payload is a payload').toBe(true);
    expect(command(both), 'both').toBe(false);
    expect(command(bare), 'neither').toBe(false);
    const fields = (v: unknown) => CommandBodySchema.safeParse(v).error?.issues.map((i) => i.path.join('.'));
    expect(CommandBodySchema.safeParse(byRef).success).toBe(true);
    expect(CommandBodySchema.safeParse(inline).success).toBe(true);
    expect(fields(both)).toEqual(['payloadRef']);
    expect(fields(bare)).toEqual(['payload']);
    const push = {
      correlationId: 'c',
      subject: 's',
      streamSeq: 1,
      deliveryCount: 1,
      publishedAt: new Date(0).toISOString(),
      verified: true,
    };
    const inbox = ajv.getSchema(SCHEMA_FILE.inboxCommand)!;
    expect(inbox({ ...push, payload: 1 })).toBe(true);
    expect(inbox({ ...push, payloadRef: ref })).toBe(true);
    expect(inbox({ ...push, payload: 1, payloadRef: ref })).toBe(false);
    expect(inbox(push)).toBe(false);
    expect(InboxCommandSchema.safeParse(push).error?.issues[0]?.message).toMatch(/^payload: is required/);
  });
});

// The edge of the browser: a text frame from the relay becomes a typed RelayToBrowser, or is
// refused with a reason. Only the outer shape is checked here; the model reads every field
// defensively, so a field of the wrong type never breaks the page.
import type { RelayToBrowser } from '../../../shared/village.ts';

export type Parsed = { ok: true; msg: RelayToBrowser } | { ok: false; reason: string };

export function parseRelayFrame(text: unknown): Parsed {
  if (typeof text !== 'string') return { ok: false, reason: 'not a text frame' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (!isObject(v)) return { ok: false, reason: 'not a JSON object' };
  switch (v.type) {
    case 'snapshot':
      if (!isFiniteNumber(v.now)) return { ok: false, reason: 'snapshot without a numeric now' };
      if (!isObject(v.picture) || !Array.isArray(v.picture.peers)) return { ok: false, reason: 'snapshot without picture.peers' };
      return { ok: true, msg: v as unknown as RelayToBrowser };
    case 'batch':
      if (!isFiniteNumber(v.now)) return { ok: false, reason: 'batch without a numeric now' };
      if (!Array.isArray(v.deltas)) return { ok: false, reason: 'batch without deltas' };
      return { ok: true, msg: { type: 'batch', now: v.now, deltas: v.deltas.filter(isObject) } as unknown as RelayToBrowser };
    case 'reply':
      if (typeof v.id !== 'string') return { ok: false, reason: 'reply without an id' };
      return {
        ok: true,
        msg: { type: 'reply', id: v.id, ok: v.ok === true, text: typeof v.text === 'string' ? v.text : '', ...('value' in v ? { value: v.value } : {}) },
      };
    default:
      return { ok: false, reason: `unknown message type ${JSON.stringify(v.type)}` };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

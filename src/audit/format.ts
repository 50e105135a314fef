import type { AuditRecord } from './record.ts';

/** A record as one human-readable line, for `audit tail`. */
export function formatRecord(record: AuditRecord): string {
  const time = new Date(record.at).toISOString().replace('T', ' ').replace('Z', '');
  return `#${record.seq}  ${time}  ${formatEvent(record.event)}`;
}

function formatEvent(event: AuditRecord['event']): string {
  const redacted = event.redacted?.length ? `  (redacted: ${event.redacted.join(', ')})` : '';
  switch (event.type) {
    case 'session.open':
      return `session.open  session ${event.sessionId}  ${event.configuration}, input ${event.input}, legs ${event.legs || 'none'}`;
    case 'decision': {
      const d = event.decision;
      const reasons = d.reasons.map((r) => r.message).join('; ');
      return `decision  ${d.effect.toUpperCase()} ${d.tool}  session ${d.sessionId} call ${d.callId} seq ${d.seq}  legs ${d.legsBefore || 'none'} -> ${d.legsAfter || 'none'}  ${reasons}${redacted}`;
    }
    case 'approval.request': {
      const r = event.request;
      return `approval.request  ${r.id} for ${r.tool}  session ${r.sessionId} call ${r.callId}  args ${JSON.stringify(r.args)}${redacted}`;
    }
    case 'approval.answer':
      return `approval.answer  ${event.requestId} ${event.status}${event.by ? ` by ${event.by}` : ''}  session ${event.sessionId}${event.reason ? `: ${event.reason}` : ''}`;
    case 'result':
      return `result  ${event.tool}  session ${event.sessionId} call ${event.callId}  brought ${event.brought || 'none'}, legs ${event.legsAfter || 'none'}, ${event.bytes} bytes`;
    case 'result.ignored':
      return `result.ignored  session ${event.sessionId} call ${event.callId}: ${event.reason}`;
    case 'transition':
      return `transition ${event.kind}  session ${event.sessionId}  ${JSON.stringify(event.detail)}`;
    case 'lineage.allow': {
      const what = event.author !== undefined ? `author ${event.author}` : `item ${event.item}`;
      return `lineage.allow  ${what}${event.tool ? ` for ${event.tool}` : ''}${event.by ? ` by ${event.by}` : ''}${event.reason ? `: ${event.reason}` : ''}`;
    }
    default:
      return `${(event as { type: string }).type}  ${JSON.stringify(event)}`;
  }
}

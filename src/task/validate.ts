import { UsageError } from '../errors.js';
import type { Json } from '../types.js';
import type { TaskDefinition } from './define.js';
import { checkPayload } from './payload.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/**
 * The input a job of `def` stores: checked by the task's `input` schema when it has one (its output is stored, so
 * defaults and coercions apply), and by the JSON check either way. Errors name the field: `input.i: Required`.
 */
export async function validateInput(task: string, def: TaskDefinition | undefined, input: unknown): Promise<Json> {
  const schema = def?.inputSchema;
  if (!schema) return checkPayload(input, 'input');
  checkPayload(input, 'input');
  const result = await schema['~standard'].validate(input);
  if (result.issues) {
    const lines = result.issues.slice(0, 10).map((issue) => `${issuePath(issue)}: ${issue.message}`);
    const more = result.issues.length > 10 ? `\n  …and ${result.issues.length - 10} more` : '';
    throw new UsageError('VIGIL_INVALID_INPUT', `input of task "${task}" does not match its input schema:\n  ${lines.join('\n  ')}${more}`);
  }
  return checkPayload(result.value, 'input (after the schema)');
}

function issuePath(issue: StandardSchemaV1.Issue): string {
  let out = 'input';
  for (const seg of issue.path ?? []) {
    const key = typeof seg === 'object' && seg !== null ? seg.key : seg;
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

import type { Command } from 'commander';
/** `cancel` and `retry`: one state change each, then the job as it is after it. */
export declare function registerControl(program: Command): void;

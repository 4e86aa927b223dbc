import type { Command } from 'commander';
export declare function registerLogs(program: Command): void;

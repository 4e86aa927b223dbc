import type { Command } from 'commander';
export declare function registerInspect(program: Command): void;

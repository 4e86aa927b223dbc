import { Command } from 'commander';
/** The `vigil` command tree. A new command is one `registerX(program)` line here and one file in commands/. */
export declare function buildProgram(): Command;

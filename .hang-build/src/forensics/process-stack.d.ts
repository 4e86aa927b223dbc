import type { HangReport } from '../types.js';
/** Where reports of this supervisor's children go (one directory per child, named by pid). */
export declare function reportDirectory(): string;
/** execArgv the process child needs: add to the executor's fork flags. */
export declare function processStackExecArgv(): string[];
export interface ProcessStackOptions {
    /** The child was started with processStackExecArgv(): ask it for a report. Default true. */
    report?: boolean;
}
export declare function captureProcessStack(pid: number, budgetMs: number, options?: ProcessStackOptions): Promise<HangReport['where']>;

import type { HangReport } from '../types.js';
/** A hang report as text for people (`vigil inspect`, the dashboard's plain view). Sections without facts are left out. */
export declare function formatHangReport(report: HangReport): string;

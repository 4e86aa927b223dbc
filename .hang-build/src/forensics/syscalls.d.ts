/**
 * System call numbers → names for the calls a stuck program sits in, and a plain-words reading of what the call is
 * waiting for. Only the common blocking calls: an unknown number is reported as "syscall N".
 */
export declare function syscallName(nr: number, cpu: string): string | null;
export interface SyscallReaders {
    /** readlink of /proc/<pid>/fd/<fd>: "pipe:[1234]", "socket:[99]", "/dev/pts/3", a path. */
    fdTarget(fd: number): string | null;
    /** A string at an address of the process (path arguments). */
    readString(address: bigint): string | null;
    /** What a socket inode is: "a UNIX socket pair …", "TCP 127.0.0.1:5 → 127.0.0.1:80". */
    socketKind?(inode: string): string | null;
    /** 'fifo', 'file', … for a path as the process sees it. */
    pathKind?(path: string): string | null;
}
/** "reading fd 0 (pipe:[1234], a pipe)", "waiting on a futex (a lock or condition variable)", … */
export declare function describeSyscall(name: string | null, args: bigint[], read: SyscallReaders): string | null;

/**
 * System call numbers → names for the calls a stuck program sits in, and a plain-words reading of what the call is
 * waiting for. Only the common blocking calls: an unknown number is reported as "syscall N".
 */
const X64 = {
    0: 'read', 1: 'write', 2: 'open', 3: 'close', 7: 'poll', 16: 'ioctl', 17: 'pread64', 18: 'pwrite64', 19: 'readv',
    20: 'writev', 23: 'select', 34: 'pause', 35: 'nanosleep', 42: 'connect', 43: 'accept', 44: 'sendto', 45: 'recvfrom',
    46: 'sendmsg', 47: 'recvmsg', 59: 'execve', 61: 'wait4', 72: 'fcntl', 73: 'flock', 74: 'fsync', 75: 'fdatasync',
    128: 'rt_sigtimedwait', 130: 'rt_sigsuspend', 202: 'futex', 230: 'clock_nanosleep', 232: 'epoll_wait', 247: 'waitid',
    257: 'openat', 270: 'pselect6', 271: 'ppoll', 281: 'epoll_pwait', 288: 'accept4', 426: 'io_uring_enter',
    437: 'openat2', 441: 'epoll_pwait2',
};
/** arm64 uses the generic table (asm-generic/unistd.h). */
const ARM64 = {
    22: 'epoll_pwait', 25: 'fcntl', 29: 'ioctl', 32: 'flock', 56: 'openat', 57: 'close', 63: 'read', 64: 'write', 65: 'readv',
    66: 'writev', 67: 'pread64', 68: 'pwrite64', 72: 'pselect6', 73: 'ppoll', 82: 'fsync', 83: 'fdatasync', 95: 'waitid',
    98: 'futex', 101: 'nanosleep', 115: 'clock_nanosleep', 133: 'rt_sigsuspend', 137: 'rt_sigtimedwait', 202: 'accept',
    203: 'connect', 206: 'sendto', 207: 'recvfrom', 211: 'sendmsg', 212: 'recvmsg', 221: 'execve', 242: 'accept4',
    260: 'wait4', 426: 'io_uring_enter', 437: 'openat2', 441: 'epoll_pwait2',
};
export function syscallName(nr, cpu) {
    const table = cpu === 'arm64' ? ARM64 : cpu === 'x64' ? X64 : null;
    return table?.[nr] ?? null;
}
/** "reading fd 0 (pipe:[1234], a pipe)", "waiting on a futex (a lock or condition variable)", … */
export function describeSyscall(name, args, read) {
    const a = (i) => args[i] ?? 0n;
    const fd = (i) => {
        const n = Number(BigInt.asIntN(32, a(i)));
        const target = read.fdTarget(n);
        if (!target)
            return `fd ${n}`;
        const socket = /^socket:\[(\d+)\]$/.exec(target);
        const kind = socket ? read.socketKind?.(socket[1]) : null;
        return `fd ${n} (${target}${kind ? `, ${kind}` : kindOf(target)})`;
    };
    switch (name) {
        case 'read':
        case 'readv':
        case 'pread64':
        case 'recvfrom':
        case 'recvmsg':
            return `reading ${fd(0)}`;
        case 'write':
        case 'writev':
        case 'pwrite64':
        case 'sendto':
        case 'sendmsg':
            return `writing ${fd(0)} (the reader does not keep up, or nobody reads)`;
        case 'open':
            return opening(read.readString(a(0)), read);
        case 'openat':
        case 'openat2':
            return opening(read.readString(a(1)), read);
        case 'futex':
            return 'waiting on a futex (a lock, condition variable or semaphore)';
        case 'wait4':
        case 'waitid': {
            const pid = Number(BigInt.asIntN(32, name === 'wait4' ? a(0) : a(1)));
            return pid > 0 && name === 'wait4' ? `waiting for child process ${pid} to exit (wait4)` : `waiting for child processes (${name})`;
        }
        case 'epoll_wait':
        case 'epoll_pwait':
        case 'epoll_pwait2':
        case 'poll':
        case 'ppoll':
        case 'select':
        case 'pselect6':
            return `waiting for I/O events (${name}): an event loop with nothing ready`;
        case 'nanosleep':
        case 'clock_nanosleep':
            return `sleeping (${name})`;
        case 'accept':
        case 'accept4':
            return `waiting for a connection on ${fd(0)}`;
        case 'connect':
            return `connecting ${fd(0)}`;
        case 'pause':
        case 'rt_sigsuspend':
        case 'rt_sigtimedwait':
            return `waiting for a signal (${name})`;
        case 'flock':
            return `waiting for a file lock on ${fd(0)}`;
        case 'fcntl':
            return `fcntl on ${fd(0)} (possibly waiting for a record lock)`;
        case 'fsync':
        case 'fdatasync':
            return `flushing ${fd(0)} to disk`;
        default:
            return null;
    }
}
function opening(path, read) {
    if (!path)
        return 'opening a file';
    const kind = read.pathKind?.(path);
    return `opening ${path}${kind === 'fifo' ? ' (a FIFO: open blocks until the other end is opened)' : ''}`;
}
function kindOf(target) {
    if (target.startsWith('pipe:'))
        return ', a pipe';
    if (target.startsWith('socket:'))
        return ', a socket';
    if (/^\/dev\/(pts\/|tty)/.test(target))
        return ', a terminal';
    if (target === '/dev/null')
        return '';
    if (target.startsWith('anon_inode:'))
        return '';
    return ', a file';
}
//# sourceMappingURL=syscalls.js.map
// What the figures were measured on: CPU, cores, RAM, disk, kernel, Node, tool versions, load.
import { spawnSync } from 'node:child_process';
import { readFileSync, statfsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

function text(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function loadAverage() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

export function oneMinuteLoad() {
  return Number(loadAverage().split(' ')[0]);
}

export function freeBytes(dir) {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** The filesystem and block device holding `dir`. */
function diskOf(dir) {
  const mount = (text(['findmnt', '-n', '-o', 'SOURCE,FSTYPE,OPTIONS', '-T', dir]) ?? 'unknown')
    .split(/\s+/)
    .join(' ');
  const source = mount.split(/\s+/)[0] ?? '';
  const dev = source.replace(/^\/dev\//, '');
  let kind = '';
  try {
    const rotational = readFileSync(`/sys/block/${dev}/queue/rotational`, 'utf8').trim();
    kind = rotational === '1' ? ' (reports rotational; virtual disk)' : ' (non-rotational)';
  } catch {
    /* not a plain block device (overlay, tmpfs...) */
  }
  const size = text(['df', '-h', '--output=size,avail', dir])?.split('\n')[1]?.trim() ?? '';
  return `${mount}${kind}; size/avail ${size.replace(/\s+/, ' / ')}`;
}

/** The commit measured, and whether src/ had uncommitted edits (a shared checkout). */
export function sourceState(root) {
  const head = text(['git', '-C', root, 'rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const status = spawnSync('git', ['-C', root, 'status', '--porcelain', '--', 'src'], {
    encoding: 'utf8',
  });
  const dirty = (status.stdout ?? '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.slice(3));
  return dirty.length === 0
    ? `commit ${head}`
    : `commit ${head} plus uncommitted edits in ${dirty.join(', ')} (built as found)`;
}

export function machineInfo(workDir) {
  const cpu = cpus()[0]?.model ?? 'unknown';
  const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
  const features = ['sha_ni', 'avx2', 'avx512f'].filter((f) => flags.split(' ').includes(f));
  return {
    cpu: `${cpu} (${features.join(', ') || 'no SHA-NI/AVX2'})`,
    cores: cpus().length,
    ramGiB: (totalmem() / 2 ** 30).toFixed(1),
    disk: diskOf(workDir),
    kernel: text(['uname', '-r']) ?? 'unknown',
    node: process.version,
    openssl: process.versions.openssl,
    skopeo: text(['skopeo', '--version']) ?? 'not installed',
    umoci: text(['umoci', '--version']) ?? 'not installed',
    tar: text(['tar', '--version'])?.split('\n')[0] ?? 'unknown',
  };
}

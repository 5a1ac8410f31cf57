// Every command group, in --help order. A new group is one file and one line here.
import type { RegisterCommands } from '../context.js';
import { registerInit } from './init.js';
import { registerInfo } from './info.js';
import { registerPushPull } from './push-pull.js';
import { registerTag } from './tag.js';
import { registerManifest } from './manifest.js';
import { registerBlob } from './blob.js';
import { registerCopy } from './copy.js';
import { registerSync } from './sync.js';
import { registerMaintenance } from './maintenance.js';
import { registerArchive } from './archive.js';
import { registerReferrers } from './referrers.js';
import { registerServe } from './serve.js';

export const COMMANDS: RegisterCommands[] = [
  registerInit,
  registerInfo,
  registerPushPull,
  registerTag,
  registerManifest,
  registerBlob,
  registerCopy,
  registerSync,
  registerMaintenance,
  registerArchive,
  registerReferrers,
  registerServe,
];

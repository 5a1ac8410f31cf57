// Every command group, in --help order. A new group is one file and one line here.
import type { RegisterCommands } from '../context.js';
import { registerInit } from './init.js';

export const COMMANDS: RegisterCommands[] = [registerInit];

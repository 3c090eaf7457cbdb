#!/usr/bin/env node
'use strict';
// Compiled entry point (built by `npm run build`, which `npm install` runs through `prepare`).
require('../dist/src/cli/main.js');

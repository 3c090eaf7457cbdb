export { freePort } from '../../src/net';

// Types for socket.io-client 2.x, installed as the npm alias `socket.io-client-v2` (it ships none):
// only what the EIO3 tests use.
declare module "socket.io-client-v2" {
  interface V2Socket {
    readonly id: string;
    readonly connected: boolean;
    on(event: string, listener: (...args: any[]) => void): this;
    once(event: string, listener: (...args: any[]) => void): this;
    off(event: string, listener?: (...args: any[]) => void): this;
    emit(event: string, ...args: any[]): this;
    close(): this;
    disconnect(): this;
  }
  function io(url: string, options?: Record<string, unknown>): V2Socket;
  export default io;
}

/* quic.h — the QUIC carrier of transport.h (ngtcp2 + GnuTLS, ALPN "vx6").
 *
 * Each node presents a self-signed X.509 certificate made at startup from its
 * Ed25519 identity key; the peer's certificate key must be Ed25519 and hash to
 * the expected node ID (client certificates are required both ways).  One
 * QUIC connection per peer node carries every stream to it; a VX6 stream is
 * one bidirectional QUIC stream whose first bytes are the stream-open
 * exchange.  See vx6-protocol(7), QUIC MAPPING.
 */
#ifndef VX6_TRANSPORT_QUIC_H
#define VX6_TRANSPORT_QUIC_H

#include "transport/transport.h"

#define VX_QUIC_ALPN "vx6"

/* A QUIC transport.  Never returns NULL (aborts on OOM or when the TLS
 * library cannot make a certificate from the identity). */
struct vx_transport *vx_transport_quic_new(struct ev_loop *loop, const struct vx_identity *id,
                                           const struct vx_transport_conf *conf);

/* The local address changed (or should change): move every connection we
 * dialled to a fresh UDP socket (new source port, same remote) with QUIC
 * connection migration.  Streams keep running.  Returns the number of
 * connections migrated, or a negative VX_ERR_* if t is not a QUIC transport. */
int vx_transport_quic_rebind(struct vx_transport *t);

/* Other protocols on the node port.  A datagram reaching a listening socket
 * that is not a long-header packet, lacks the QUIC fixed bit (0x40) and
 * whose destination connection ID belongs to no connection (a DHT message
 * starts with 0x01) is handed to fn instead of the QUIC stack, so the DHT
 * can share UDP 4242 with QUIC; greased 1-RTT packets (RFC 9287) still
 * reach their connection by DCID.  fn NULL removes
 * the hook.  0, or VX_ERR_INVAL if t is not a QUIC transport. */
typedef void (*vx_quic_foreign_fn)(const uint8_t *data, size_t len, const struct sockaddr *from,
                                   socklen_t fromlen, void *arg);
int vx_transport_quic_set_foreign(struct vx_transport *t, vx_quic_foreign_fn fn, void *arg);
/* The first listener's UDP socket (to send foreign datagrams from the node
 * port), or VX_ERR_NOTFOUND when not listening. */
int vx_transport_quic_udp_fd(const struct vx_transport *t);

/* Local UDP address of the first listener (for tests that listen on port 0).
 * 0, or VX_ERR_NOTFOUND when not listening. */
int vx_transport_quic_local_addr(const struct vx_transport *t, struct sockaddr_storage *ss,
                                 socklen_t *len);

#endif

/* reply.c -- packing replies into a connection's output, one frame each.
 *
 * The hot replies (no message, and no result or an address or a pfn) are
 * packed by proto/fastencode.c, byte for byte as protobuf-c would; the rest
 * by protobuf-c.  Every error reply, whatever found the error, is packed by
 * reply_queue_error(), so an error looks the same on the wire from every
 * path: {id, status, message}, no result.
 */
#include <errno.h>

#include "fastencode.h"
#include "vmalloc.pb-c.h"
#include "vmallocd.h"

typedef Vmallocd__V1__Reply Reply;

static bool small_reply(const Reply *rep, enum vmd_fast_result *res, uint64_t *value)
{
	if (rep->message && *rep->message)
		return false;
	switch (rep->result_case) {
	case VMALLOCD__V1__REPLY__RESULT__NOT_SET:
		*res = VMD_FAST_NONE;
		*value = 0;
		return true;
	case VMALLOCD__V1__REPLY__RESULT_ALLOC:
		*res = VMD_FAST_ALLOC;
		*value = rep->alloc->addr;
		return true;
	case VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES:
		*res = VMD_FAST_ALLOC_PAGES;
		*value = rep->alloc_pages->pfn;
		return true;
	default:
		return false;
	}
}

int reply_queue(struct iobuf *out, const Reply *rep)
{
	enum vmd_fast_result res;
	uint64_t value;
	uint8_t *p;
	size_t size;

	if (small_reply(rep, &res, &value) &&
	    (p = iobuf_reserve(out, VMD_FRAME_HDR + VMD_FAST_REPLY_MAX))) {
		size = vmd_fast_pack_reply(p + VMD_FRAME_HDR, rep->id, rep->status, res, value);
		vmd_put_n32(p, (uint32_t)size);
		iobuf_commit(out, VMD_FRAME_HDR + size);
		return 0;
	}
	size = vmallocd__v1__reply__get_packed_size(rep);
	if (size > VMD_MAX_REPLY)
		return reply_queue_error(out, rep->id, -E2BIG, "reply larger than VMD_MAX_REPLY");
	p = iobuf_reserve(out, VMD_FRAME_HDR + size);
	if (!p)
		return -ENOMEM;
	vmd_put_n32(p, (uint32_t)size);
	vmallocd__v1__reply__pack(rep, p + VMD_FRAME_HDR);
	iobuf_commit(out, VMD_FRAME_HDR + size);
	return 0;
}

int reply_queue_error(struct iobuf *out, uint64_t id, int status, const char *msg)
{
	Reply rep = VMALLOCD__V1__REPLY__INIT;

	rep.id = id;
	rep.status = status;
	rep.message = (char *)msg;
	return reply_queue(out, &rep);
}

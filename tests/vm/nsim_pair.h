/* SPDX-License-Identifier: MIT */
/*
 * The wire for zcrx's hardware path without a NIC: two netdevsim ports, each
 * in a network namespace of its own, linked as peers. Port A (10.9.0.1)
 * sends, port B (10.9.0.2) receives; each port has one queue, so B's rx
 * queue 0 takes every packet. tcp-data-split and hds-thresh are set over
 * ethtool netlink, as `ethtool -G` would (the VM has no ethtool).
 *
 * Plain C that also compiles as C++, for the library's test.
 */
#ifndef UIO_NSIM_PAIR_H
#define UIO_NSIM_PAIR_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

struct t_nsim_pair {
	int ns_init, ns_a, ns_b;	/* network namespace fds */
	unsigned id_a, id_b;		/* netdevsim bus device ids */
	unsigned if_a, if_b;		/* ifindexes, each in its namespace */
};

/* writes @s to @path; 0 or -errno */
static inline int t_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static inline int t_netns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) ? -errno : 0;
}

/* one genetlink request with an ack; 0 or the kernel's -errno */
static inline int t_genl_call(int fd, void *msg, uint32_t len, void *reply, size_t reply_size)
{
	struct nlmsghdr *nh;
	ssize_t n;

	if (send(fd, msg, len, 0) != (ssize_t)len)
		return -errno;
	for (;;) {
		n = recv(fd, reply, reply_size, 0);
		if (n < 0)
			return -errno;
		for (nh = (struct nlmsghdr *)reply; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
			if (nh->nlmsg_type >= NLMSG_MIN_TYPE)
				return 0;	/* a reply; its ack follows */
		}
	}
}

static inline void t_nla_put(char *msg, uint32_t *len, uint16_t type, const void *data, uint16_t size)
{
	struct nlattr *a = (struct nlattr *)(msg + *len);

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + size);
	memcpy((char *)a + NLA_HDRLEN, data, size);
	*len += NLA_ALIGN(a->nla_len);
}

/* starts a genetlink message of @family/@cmd in @msg; returns its length */
static inline uint32_t t_genl_start(char *msg, uint16_t family, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)msg;
	struct genlmsghdr *gh = (struct genlmsghdr *)NLMSG_DATA(nh);

	memset(msg, 0, NLMSG_SPACE(GENL_HDRLEN));
	nh->nlmsg_type = family;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	gh->cmd = cmd;
	gh->version = version;
	return NLMSG_SPACE(GENL_HDRLEN);
}

/*
 * Sets tcp-data-split (ETHTOOL_TCP_DATA_SPLIT_*) and hds-thresh of
 * @ifindex in the caller's namespace: `ethtool -G DEV tcp-data-split on
 * hds-thresh 0`. Returns 0 or the kernel's -errno.
 */
static inline int t_ethtool_hds(unsigned ifindex, uint8_t split, uint32_t thresh)
{
	char msg[256], reply[4096];
	uint16_t family = 0;
	uint32_t len;
	struct nlattr *a;
	struct nlmsghdr *nh = (struct nlmsghdr *)msg;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	int ret;

	if (fd < 0)
		return -errno;
	len = t_genl_start(msg, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	t_nla_put(msg, &len, CTRL_ATTR_FAMILY_NAME, ETHTOOL_GENL_NAME, sizeof(ETHTOOL_GENL_NAME));
	nh->nlmsg_len = len;
	ret = t_genl_call(fd, msg, len, reply, sizeof(reply));
	if (ret)
		goto out;
	nh = (struct nlmsghdr *)reply;
	for (a = (struct nlattr *)((char *)NLMSG_DATA(nh) + GENL_HDRLEN);
	     (char *)a < reply + nh->nlmsg_len; a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			memcpy(&family, (char *)a + NLA_HDRLEN, sizeof(family));
	ret = -ENOENT;
	if (!family)
		goto out;

	len = t_genl_start(msg, family, ETHTOOL_MSG_RINGS_SET, ETHTOOL_GENL_VERSION);
	{
		/* the nested request header names the device */
		struct nlattr *hdr = (struct nlattr *)(msg + len);
		uint32_t start = len;

		len += NLA_HDRLEN;
		t_nla_put(msg, &len, ETHTOOL_A_HEADER_DEV_INDEX, &ifindex, sizeof(ifindex));
		hdr->nla_type = ETHTOOL_A_RINGS_HEADER | NLA_F_NESTED;
		hdr->nla_len = (uint16_t)(len - start);
	}
	t_nla_put(msg, &len, ETHTOOL_A_RINGS_TCP_DATA_SPLIT, &split, sizeof(split));
	t_nla_put(msg, &len, ETHTOOL_A_RINGS_HDS_THRESH, &thresh, sizeof(thresh));
	((struct nlmsghdr *)msg)->nlmsg_len = len;
	ret = t_genl_call(fd, msg, len, reply, sizeof(reply));
out:
	close(fd);
	return ret;
}

/* a new netdevsim device @id with one port and one queue, in the caller's
 * namespace; returns the port's ifindex, 0 with errno set on failure */
static inline unsigned t_nsim_new(unsigned id)
{
	struct if_nameindex *ifs, *i;
	unsigned idx = 0;
	char arg[32];
	int ret;

	snprintf(arg, sizeof(arg), "%u 1 1", id);
	ret = t_write_str("/sys/bus/netdevsim/new_device", arg);
	if (ret) {
		errno = -ret;
		return 0;
	}
	/* a fresh namespace holds lo and the new port */
	ifs = if_nameindex();
	for (i = ifs; i && i->if_index; i++)
		if (strcmp(i->if_name, "lo"))
			idx = i->if_index;
	if_freenameindex(ifs);
	if (!idx)
		errno = ENODEV;
	return idx;
}

static inline int t_nsim_del(unsigned id)
{
	char arg[16];

	snprintf(arg, sizeof(arg), "%u", id);
	return t_write_str("/sys/bus/netdevsim/del_device", arg);
}

/* restarts rx queue @queue of device @id the way netdevsim's debugfs knob
 * does (@mode 0-3: see drivers/net/netdevsim/netdev.c); 0 or -errno */
static inline int t_nsim_queue_reset(unsigned id, unsigned queue, unsigned mode)
{
	char path[128], arg[32];

	snprintf(path, sizeof(path), "/sys/kernel/debug/netdevsim/netdevsim%u/ports/0/queue_reset", id);
	snprintf(arg, sizeof(arg), "%u %u", queue, mode);
	return t_write_str(path, arg);
}

/* gives @ifindex address @addr/24 and brings it up; 0 or -errno */
static inline int t_if_up(unsigned ifindex, const char *addr)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname(ifindex, ifr.ifr_name))
		goto fail;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
	if (ioctl(fd, SIOCSIFADDR, &ifr))
		goto fail;
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	if (ioctl(fd, SIOCSIFNETMASK, &ifr) || ioctl(fd, SIOCGIFFLAGS, &ifr))
		goto fail;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		goto fail;
	close(fd);
	return 0;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

/*
 * Gives @ifindex the IPv6 address @addr/64, with duplicate address detection
 * off so that it is usable at once; 0 or -errno. Call before t_if_up().
 */
static inline int t_if_addr6(unsigned ifindex, const char *addr)
{
	struct {			/* the kernel's struct in6_ifreq */
		struct in6_addr addr;
		uint32_t prefixlen;
		int ifindex;
	} req;
	char name[IF_NAMESIZE], path[128];
	int fd, ret = 0;

	if (!if_indextoname(ifindex, name))
		return -errno;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", name);
	if ((ret = t_write_str(path, "0")))
		return ret;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&req, 0, sizeof(req));
	req.prefixlen = 64;
	req.ifindex = (int)ifindex;
	inet_pton(AF_INET6, addr, &req.addr);
	if (ioctl(fd, SIOCSIFADDR, &req))
		ret = -errno;
	close(fd);
	return ret;
}

/* rx_dropped of @ifindex in the caller's namespace, from /proc/net/dev */
static inline unsigned long long t_if_rx_dropped(unsigned ifindex)
{
	char name[IF_NAMESIZE], line[512];
	unsigned long long v[4] = { 0 };
	size_t len;
	FILE *f;

	if (!if_indextoname(ifindex, name) || !(f = fopen("/proc/net/dev", "r")))
		return 0;
	len = strlen(name);
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " ");

		/* name: rx bytes packets errs drop ... */
		if (!strncmp(p, name, len) && p[len] == ':')
			sscanf(p + len + 1, "%llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]);
	}
	fclose(f);
	return v[3];
}

#define T_NSIM_ADDR_A "10.9.0.1"
#define T_NSIM_ADDR_B "10.9.0.2"
#define T_NSIM_ADDR6_A "fd00:9::1"
#define T_NSIM_ADDR6_B "fd00:9::2"

/*
 * Creates the pair (devices @id and @id + 1); with @hds, B gets
 * tcp-data-split on and hds-thresh 0, which a memory provider needs.
 * Leaves the caller in B's namespace. 0 or -errno, with what failed in @err.
 */
static inline int t_nsim_pair_create(struct t_nsim_pair *p, unsigned id, int hds,
				     const char **err)
{
	char arg[64];
	int ret;

	memset(p, 0, sizeof(*p));
	p->id_a = id;
	p->id_b = id + 1;
	p->ns_a = p->ns_b = -1;
	*err = "opening the initial namespace";
	p->ns_init = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (p->ns_init < 0)
		return -errno;

	*err = "namespace A";
	if (unshare(CLONE_NEWNET))
		return -errno;
	p->ns_a = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	*err = "netdevsim device A";
	p->if_a = t_nsim_new(p->id_a);
	if (p->ns_a < 0 || !p->if_a)
		return -errno;

	*err = "namespace B";
	if ((ret = t_netns_enter(p->ns_init)) || unshare(CLONE_NEWNET))
		return ret ? ret : -errno;
	p->ns_b = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	*err = "netdevsim device B";
	p->if_b = t_nsim_new(p->id_b);
	if (p->ns_b < 0 || !p->if_b)
		return -errno;
	*err = "tcp-data-split on B";
	if (hds && (ret = t_ethtool_hds(p->if_b, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0)))
		return ret;

	*err = "linking A and B";
	snprintf(arg, sizeof(arg), "%d:%u %d:%u", p->ns_a, p->if_a, p->ns_b, p->if_b);
	if ((ret = t_write_str("/sys/bus/netdevsim/link_device", arg)))
		return ret;
	*err = "addressing A";
	if ((ret = t_netns_enter(p->ns_a)) || (ret = t_if_addr6(p->if_a, T_NSIM_ADDR6_A)) ||
	    (ret = t_if_up(p->if_a, T_NSIM_ADDR_A)))
		return ret;
	*err = "addressing B";
	if ((ret = t_netns_enter(p->ns_b)) || (ret = t_if_addr6(p->if_b, T_NSIM_ADDR6_B)) ||
	    (ret = t_if_up(p->if_b, T_NSIM_ADDR_B)))
		return ret;
	*err = NULL;
	return 0;
}

/*
 * A TCP connection from A to B over @family (AF_INET or AF_INET6): @tx in A's
 * namespace, @rx in B's; the caller is left in B's namespace. 0 or -errno,
 * with what failed in @err.
 */
static inline int t_nsim_pair_connect_family(struct t_nsim_pair *p, int family, int *tx,
					     int *rx, const char **err)
{
	struct sockaddr_storage addr;
	socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					     sizeof(struct sockaddr_in);
	const socklen_t addr_len = len;
	int lfd, ret;

	memset(&addr, 0, sizeof(addr));
	addr.ss_family = (sa_family_t)family;
	if (family == AF_INET6)
		inet_pton(AF_INET6, T_NSIM_ADDR6_B, &((struct sockaddr_in6 *)&addr)->sin6_addr);
	else
		inet_pton(AF_INET, T_NSIM_ADDR_B, &((struct sockaddr_in *)&addr)->sin_addr);
	*tx = *rx = -1;
	*err = "listening in B";
	if ((ret = t_netns_enter(p->ns_b)))
		return ret;
	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, addr_len) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len))
		goto fail;
	*err = "connecting from A";
	if ((ret = t_netns_enter(p->ns_a)))
		goto fail_ret;
	*tx = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*tx < 0 || connect(*tx, (struct sockaddr *)&addr, addr_len))
		goto fail;
	*err = "accepting in B";
	if ((ret = t_netns_enter(p->ns_b)))
		goto fail_ret;
	*rx = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*rx < 0)
		goto fail;
	close(lfd);
	*err = NULL;
	return 0;
fail:
	ret = -errno;
fail_ret:
	if (lfd >= 0)
		close(lfd);
	if (*tx >= 0)
		close(*tx);
	*tx = -1;
	return ret;
}

static inline int t_nsim_pair_connect(struct t_nsim_pair *p, int *tx, int *rx, const char **err)
{
	return t_nsim_pair_connect_family(p, AF_INET, tx, rx, err);
}

/* deletes what is left of the pair and returns to the initial namespace */
static inline void t_nsim_pair_destroy(struct t_nsim_pair *p)
{
	t_netns_enter(p->ns_init);
	t_nsim_del(p->id_a);
	t_nsim_del(p->id_b);
	if (p->ns_a >= 0)
		close(p->ns_a);
	if (p->ns_b >= 0)
		close(p->ns_b);
	close(p->ns_init);
}

#endif

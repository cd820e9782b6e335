# contrib: build fragment (included from Makefile.am)

# systemd unit (paths substituted at build time), ssh_config example, bash
# completion for vx6, vx6d and vx6-nc.
systemdunit_DATA = contrib/vx6d.service
contrib/vx6d.service: $(srcdir)/contrib/vx6d.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' $(srcdir)/contrib/vx6d.service.in >$@
CLEANFILES += contrib/vx6d.service
EXTRA_DIST += contrib/vx6d.service.in

# examplesdir ($(docdir)/examples) is defined in conf/local.mk
dist_examples_DATA += contrib/ssh_config

bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = contrib/bash-completion/vx6
install-data-hook: install-bashcompletion-links
uninstall-hook: uninstall-bashcompletion-links
install-bashcompletion-links:
	cd $(DESTDIR)$(bashcompletiondir) && ln -sf vx6 vx6d && ln -sf vx6 vx6-nc
uninstall-bashcompletion-links:
	rm -f $(DESTDIR)$(bashcompletiondir)/vx6d $(DESTDIR)$(bashcompletiondir)/vx6-nc
.PHONY: install-bashcompletion-links uninstall-bashcompletion-links

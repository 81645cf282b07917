/* See LICENSE file for copyright and license details. */
/* The guest agent, embedded in husk; shim.c wraps it in a newc initramfs. */
	.section .rodata
	.balign 16
	.globl agent_bin
agent_bin:
	.incbin "agent/husk-agent"
	.globl agent_end
agent_end:
	.section .note.GNU-stack,"",@progbits

/*
 * kmem/fault.h - metadata allocation failure injection, for tests.
 *
 * Available only when lib/ is built with KMEM_FAULT_INJECT (the test
 * builds); the one piece of mutable global state in lib/, and it exists
 * only there.
 */
#ifndef KMEM_FAULT_H
#define KMEM_FAULT_H

/*
 * kmem_fault_fail_nth - make the nth metadata allocation from now fail
 * (1 = the next one); 0 disarms.
 */
void kmem_fault_fail_nth(unsigned long nth);

/* kmem_fault_fired - true once the armed failure has happened. */
int kmem_fault_fired(void);

/* kmem_fault_live - metadata allocations not yet freed (leak check). */
long kmem_fault_live(void);

#endif

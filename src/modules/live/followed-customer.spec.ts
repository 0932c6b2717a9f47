import { Audience, FollowedCustomer } from './followed-customer.js';

interface Subscriber {
  name: string;
  customer?: FollowedCustomer;
}

function subscriber(name: string, customerId?: string): Subscriber {
  return { name, customer: customerId === undefined ? undefined : new FollowedCustomer(customerId) };
}

const names = (subscribers: Subscriber[]) => subscribers.map(({ name }) => name).sort();

describe('Audience', () => {
  it("finds a customer's followers and those that follow no one in particular, nobody else", () => {
    const audience = new Audience<Subscriber>();
    for (const member of [subscriber('ada', 'user:1'), subscriber('bob', 'user:2'), subscriber('cy', 'user:1'), subscriber('all')]) audience.add(member);
    expect(names(audience.of(audience.now, 'user:1'))).toEqual(['ada', 'all', 'cy']);
    expect(names(audience.of(audience.now, 'user:2'))).toEqual(['all', 'bob']);
    expect(names(audience.of(audience.now, 'user:3', undefined))).toEqual(['all']);
    expect(names(audience.of(audience.now, 'user:1', 'user:2'))).toEqual(['ada', 'all', 'bob', 'cy']);
    expect(audience.size).toBe(4);
    expect(audience.followsAnyone).toBe(true);
  });

  it('leaves out those that joined after the mark, and those that left', () => {
    const audience = new Audience<Subscriber>();
    const early = subscriber('early', 'user:1');
    audience.add(early);
    const mark = audience.now;
    audience.add(subscriber('late', 'user:1'));
    expect(names(audience.of(mark, 'user:1'))).toEqual(['early']);
    audience.delete(early);
    expect(names(audience.of(audience.now, 'user:1'))).toEqual(['late']);
    expect([...audience].map(({ name }) => name)).toEqual(['late']);
  });

  it("links a visitor's followers to its user, and only those that asked for that visitor", () => {
    const audience = new Audience<Subscriber>();
    const visitor = subscriber('visitor', 'anon:v1');
    const other = subscriber('other', 'anon:v2');
    audience.add(visitor);
    audience.add(other);
    audience.add(subscriber('user', 'user:1'));
    expect(audience.awaitingLink().sort()).toEqual(['anon:v1', 'anon:v2']);
    audience.link('anon:v1', 'user:1');
    expect(audience.awaitingLink()).toEqual(['anon:v2']);
    expect(names(audience.of(audience.now, 'user:1'))).toEqual(['user', 'visitor']);
    expect(names(audience.of(audience.now, 'anon:v1'))).toEqual(['visitor']);
    expect(visitor.customer!.includes('user:1')).toBe(true);
    expect(other.customer!.includes('user:1')).toBe(false);
    // Once it leaves, neither of its ids finds it.
    audience.delete(visitor);
    expect(names(audience.of(audience.now, 'user:1', 'anon:v1'))).toEqual(['user']);
  });

  it('forgets a visitor awaiting its link once nobody follows it', () => {
    const audience = new Audience<Subscriber>();
    const visitor = subscriber('visitor', 'anon:v1');
    audience.add(visitor);
    audience.delete(visitor);
    expect(audience.awaitingLink()).toEqual([]);
    expect(audience.followsAnyone).toBe(false);
  });
});
